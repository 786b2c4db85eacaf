"""The load check (plugins/load_check/) without a warehouse: BigQuery's naming rules.

The pre-flight against the emulator is test_preflight_bigquery.py. The per-day count of
loaded rows that this script also made is dbt's int_bnpl_daily_reconciliation now, read
by the quality gate: its cases (a lost batch, a replayed day, a load applied twice, a lost
extraction_log load) are tests/test_daily_reconciliation.py, and a real failed load job on
BigQuery is in test_prod_job_bigquery.py.
"""

from __future__ import annotations

import importlib.util

import pytest

from conftest import ROOT

_spec = importlib.util.spec_from_file_location(
    "check_load", ROOT / "plugins" / "load_check" / "bnpl_load_check" / "cli.py"
)
assert _spec is not None and _spec.loader is not None
check_load = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_load)


def test_without_preflight_it_says_where_the_load_counts_went(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The per-day counts moved to dbt's int_bnpl_daily_reconciliation, which the gate reads
    # (tests/test_daily_reconciliation.py); the step that counted after the load is gone.
    assert check_load.main(["--warehouse", "bigquery"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--preflight: required" in err
    assert "int_bnpl_daily_reconciliation" in err


@pytest.mark.parametrize(
    ("project", "dataset", "location"),
    [
        ("bnpl-prod", "bnpl_raw", "US"),
        ("example.com:bnpl-prod", "Raw_2024", "eu"),
        ("a23456", "x" * 1024, "europe-west2"),
        ("bnpl-prod-12345678901234567890", "_", "northamerica-northeast1"),
    ],
)
def test_preflight_accepts_valid_bigquery_ids(project: str, dataset: str, location: str) -> None:
    check_load.validate_names(project, dataset, location)


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
def test_preflight_names_the_first_bad_id(
    project: str | None, dataset: str, location: str, setting: str
) -> None:
    with pytest.raises(check_load.PreflightError, match=f"^{setting}"):
        check_load.validate_names(project, dataset, location)
