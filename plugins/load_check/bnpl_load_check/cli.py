"""Pre-flight check of the loader's warehouse configuration, before anything is extracted.

The per-day count of what was loaded against what the tap emitted is not here: dbt's
int_bnpl_daily_reconciliation computes it once and the quality gate fails the job on it
before the marts are published.

The BigQuery jobs run, before the tap:

    python plugins/load_check/bnpl_load_check/cli.py --preflight   # project, dataset, location

It validates the project id, the raw dataset id and the location against BigQuery's
naming rules, then asks BigQuery whether the dataset exists in that location, or, when it
does not exist yet, whether the project can be reached to create it. On any problem it
prints one line naming the setting and what was expected, and exits 1 before anything is
extracted, loaded or saved as state. It reads the variables the loader reads:
TARGET_BIGQUERY_PROJECT / BNPL_GCP_PROJECT, TARGET_BIGQUERY_DATASET (default bnpl_raw),
TARGET_BIGQUERY_LOCATION / BNPL_BQ_LOCATION (default US).

The DuckDB jobs run the same step for the DuckDB file (BNPL_DUCKDB_PATH):

    python plugins/load_check/bnpl_load_check/cli.py --preflight --warehouse duckdb

It refuses, in one line and before anything is extracted, a path that cannot hold the
warehouse: a directory, a folder that cannot be written, a file this DuckDB cannot open (one
written by a newer DuckDB, or not a DuckDB file), or a file named like one of the
warehouse's schemas (DuckDB names the database after the file, so in `raw.duckdb` the name
`raw.transactions` is ambiguous).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


# BigQuery's naming rules (cloud.google.com/bigquery/docs/datasets#dataset-naming,
# cloud.google.com/resource-manager/docs/creating-managing-projects): project ids are 6-30
# lowercase letters, digits and hyphens, starting with a letter and not ending with a
# hyphen (older ones may carry a `domain:` prefix); dataset ids are letters, digits and
# underscores, at most 1024 of them; locations are the US and EU multi-regions or a
# region such as europe-west2.
PROJECT_ID = re.compile(r"^(?:[a-z0-9][a-z0-9.-]*[a-z0-9]:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$")
DATASET_ID = re.compile(r"^[A-Za-z0-9_]{1,1024}$")
LOCATION = re.compile(r"^(?:us|eu|[a-z]+(?:-[a-z]+)+[0-9]+)$", re.IGNORECASE)


class PreflightError(RuntimeError):
    """The loader's warehouse configuration cannot work: one line naming the setting."""


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


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:200] + ("..." if len(text) > 200 else "")


def check_reachable(project: str, dataset: str, location: str) -> str:
    """The dataset exists in `location`, or the project can be reached to create it there.

    Returns what was found; raises PreflightError otherwise. Reads only: nothing is created.
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
                f"({_first_line(exc)})"
            ) from exc
        return f"dataset {where} does not exist yet; the loader will create it in {location}"
    except api.Forbidden as exc:
        raise PreflightError(f"dataset: no access to {where} ({_first_line(exc)})") from exc
    except (api.GoogleAPIError, GoogleAuthError, OSError) as exc:
        raise PreflightError(
            f"BigQuery: cannot check {where} in {location}: {_first_line(exc)}"
        ) from exc


# The schemas the pipeline writes in the DuckDB file: the loader's, dbt's, the gate's and
# the run log's.
WAREHOUSE_SCHEMAS = ("raw", "staging", "intermediate", "marts", "quality", "ops")


def check_duckdb_path(path: Path) -> str:
    """The DuckDB file can hold the warehouse; returns what was found, else PreflightError."""
    import duckdb

    where = f"duckdb_path: {path}"
    if path.is_dir():
        raise PreflightError(f"{where} is a directory; expected the path of a DuckDB file")
    if path.stem.lower() in WAREHOUSE_SCHEMAS:
        raise PreflightError(
            f"{where}: a file named {path.stem!r} gives the database the name of the "
            f"warehouse's schema {path.stem.lower()!r}, which makes table names ambiguous; "
            "choose another file name (BNPL_DUCKDB_PATH)"
        )
    if not path.exists():
        folder = next(parent for parent in path.parents if parent.exists())
        if not (folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)):
            raise PreflightError(f"{where} cannot be created: {folder} is not writable")
        return f"{path} will be created"
    try:
        duckdb.connect(str(path), read_only=True).close()
    except duckdb.Error as exc:
        raise PreflightError(
            f"{where} cannot be opened by duckdb {duckdb.__version__}: {_first_line(exc)}"
        ) from exc
    return f"{path} opens with duckdb {duckdb.__version__}"


def preflight(args: argparse.Namespace) -> int:
    try:
        if args.warehouse == "duckdb":
            found = check_duckdb_path(Path(args.duckdb_path))
        else:
            dataset = args.raw_schema or os.environ.get("TARGET_BIGQUERY_DATASET") or "bnpl_raw"
            validate_names(args.project, dataset, args.location)
            found = f"project {args.project}, " + check_reachable(
                args.project, dataset, args.location
            )
    except PreflightError as exc:
        print(f"check_load: preflight: {exc}", file=sys.stderr)
        return 1
    print(f"check_load: preflight OK: {found}")
    return 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--warehouse",
        choices=["duckdb", "bigquery"],
        default=os.environ.get("BNPL_LOAD_CHECK_WAREHOUSE", "duckdb"),
        help="Warehouse the loader writes to (BNPL_LOAD_CHECK_WAREHOUSE).",
    )
    parser.add_argument(
        "--duckdb-path",
        default=os.environ.get("BNPL_DUCKDB_PATH", str(ROOT / "output" / "bnpl.duckdb")),
        help="DuckDB file (BNPL_DUCKDB_PATH).",
    )
    parser.add_argument(
        "--project",
        default=os.environ.get("TARGET_BIGQUERY_PROJECT") or os.environ.get("BNPL_GCP_PROJECT"),
        help="GCP project (TARGET_BIGQUERY_PROJECT, else BNPL_GCP_PROJECT).",
    )
    parser.add_argument(
        "--location",
        default=os.environ.get("TARGET_BIGQUERY_LOCATION")
        or os.environ.get("BNPL_BQ_LOCATION", "US"),
        help="BigQuery location (TARGET_BIGQUERY_LOCATION, else BNPL_BQ_LOCATION, else US).",
    )
    parser.add_argument(
        "--raw-schema",
        default=None,
        help="Raw dataset to check (BigQuery; else TARGET_BIGQUERY_DATASET, default bnpl_raw).",
    )
    parser.add_argument(
        "--preflight",
        action="store_true",
        help="Before a load, write nothing: on BigQuery check the project, raw dataset "
        "(TARGET_BIGQUERY_DATASET, default bnpl_raw) and location, and that BigQuery can reach "
        "them; on DuckDB check that the file can hold the warehouse.",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.preflight:
        print(
            "check_load: --preflight: required (the per-day load counts are dbt's "
            "int_bnpl_daily_reconciliation, checked by the quality gate)",
            file=sys.stderr,
        )
        return 2
    return preflight(args)


if __name__ == "__main__":
    sys.exit(main())
