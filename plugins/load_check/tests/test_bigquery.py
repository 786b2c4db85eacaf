"""BigQuery's naming rules for the pre-flight, without a warehouse.

The check against BigQuery itself (the local emulator: a dataset in another location, one
that does not exist yet, a whole `meltano run daily-bigquery` refused) is the project's
tests/bigquery/test_preflight_bigquery.py.
"""

from __future__ import annotations

import pytest
from bnpl_load_check import PreflightError
from bnpl_load_check.bigquery import validate_names


@pytest.mark.parametrize(
    ("project", "dataset", "location"),
    [
        ("bnpl-prod", "bnpl_raw", "US"),
        ("example.com:bnpl-prod", "Raw_2024", "eu"),
        ("a23456", "x" * 1024, "europe-west2"),
        ("bnpl-prod-12345678901234567890", "_", "northamerica-northeast1"),
    ],
)
def test_accepts_valid_bigquery_ids(project: str, dataset: str, location: str) -> None:
    validate_names(project, dataset, location)


@pytest.mark.parametrize(
    ("project", "dataset", "location", "setting"),
    [
        (None, "bnpl_raw", "US", "project: required"),
        ("bnpl", "bnpl_raw", "US", "project: expected a GCP project id"),
        ("1bnpl-prod", "bnpl_raw", "US", "project: expected a GCP project id"),
        ("bnpl-prod-", "bnpl_raw", "US", "project: expected a GCP project id"),
        ("bnpl-prod-123456789012345678901", "bnpl_raw", "US", "project: expected a GCP"),
        ("bnpl-prod", "bnpl.raw", "US", "dataset: expected a BigQuery dataset id"),
        ("bnpl-prod", "", "US", "dataset: expected a BigQuery dataset id"),
        ("bnpl-prod", "x" * 1025, "US", "dataset: expected a BigQuery dataset id"),
        ("bnpl-prod", "bnpl_raw", "", "location: expected a BigQuery location"),
        ("bnpl-prod", "bnpl_raw", "us central", "location: expected a BigQuery location"),
    ],
)
def test_names_the_first_bad_id(
    project: str | None, dataset: str, location: str, setting: str
) -> None:
    with pytest.raises(PreflightError, match=f"^{setting}"):
        validate_names(project, dataset, location)
