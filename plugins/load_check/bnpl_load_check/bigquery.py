"""The BigQuery project, raw dataset and location target-bigquery will use.

First the ids against BigQuery's naming rules, then BigQuery itself: the dataset exists in
the job's location, or, when it does not exist yet, the project can be reached to create
it. Reads only: nothing is created.
"""

from __future__ import annotations

import re

from bnpl_load_check import PreflightError, first_line

# BigQuery's naming rules (cloud.google.com/bigquery/docs/datasets#dataset-naming,
# cloud.google.com/resource-manager/docs/creating-managing-projects): project ids are 6-30
# lowercase letters, digits and hyphens, starting with a letter and not ending with a
# hyphen (older ones may carry a `domain:` prefix); dataset ids are letters, digits and
# underscores, at most 1024 of them; locations are the US and EU multi-regions or a
# region such as europe-west2.
PROJECT_ID = re.compile(r"^(?:[a-z0-9][a-z0-9.-]*[a-z0-9]:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$")
DATASET_ID = re.compile(r"^[A-Za-z0-9_]{1,1024}$")
LOCATION = re.compile(r"^(?:us|eu|[a-z]+(?:-[a-z]+)+[0-9]+)$", re.IGNORECASE)


def validate_names(project: str | None, dataset: str, location: str) -> None:
    """Raise PreflightError on the first id that breaks BigQuery's naming rules."""
    if not project:
        raise PreflightError("project: required (set BNPL_GCP_PROJECT or TARGET_BIGQUERY_PROJECT)")
    if not PROJECT_ID.match(project):
        raise PreflightError(
            "project: expected a GCP project id (6-30 lowercase letters, digits and hyphens, "
            f"starting with a letter), got {project!r}"
        )
    if not DATASET_ID.match(dataset):
        raise PreflightError(
            "dataset: expected a BigQuery dataset id (letters, digits and underscores only, "
            f"at most 1024), got {dataset!r}"
        )
    if not LOCATION.match(location):
        raise PreflightError(
            "location: expected a BigQuery location such as US, EU or europe-west2, "
            f"got {location!r}"
        )


def check_reachable(project: str, dataset: str, location: str) -> str:
    """The dataset exists in `location`, or the project can be reached to create it there.

    Returns what was found; raises PreflightError otherwise.
    """
    try:
        from google.api_core import exceptions as api
        from google.auth.exceptions import GoogleAuthError
        from google.cloud import bigquery
    except ImportError as exc:  # run from a venv without the Google client
        raise PreflightError(f"google-cloud-bigquery is not installed here ({exc})") from exc
    where = f"{project}.{dataset}"
    try:
        client = bigquery.Client(project=project, location=location)
        try:
            found = client.get_dataset(where)
        except api.NotFound:
            found = None
        if found is not None:
            if (found.location or "").lower() != location.lower():
                raise PreflightError(
                    f"dataset: {where} is in location {found.location}, but the job loads "
                    f"in {location} (set BNPL_BQ_LOCATION={found.location} or use another "
                    "dataset)"
                )
            return f"dataset {where} exists in {found.location}"
        try:
            next(iter(client.list_datasets(project, max_results=1)), None)
        except (api.NotFound, api.Forbidden) as exc:
            raise PreflightError(
                f"project: {project} not found or not accessible with these credentials "
                f"({first_line(exc)})"
            ) from exc
        return f"dataset {where} does not exist yet; the loader will create it in {location}"
    except api.Forbidden as exc:
        raise PreflightError(f"dataset: no access to {where} ({first_line(exc)})") from exc
    except (api.GoogleAPIError, GoogleAuthError, OSError) as exc:
        raise PreflightError(
            f"BigQuery: cannot check {where} in {location}: {first_line(exc)}"
        ) from exc
