"""`bnpl-load-check`: the pre-flight's command line and the settings it reads.

    bnpl-load-check --preflight --warehouse bigquery   # project, dataset, location
    bnpl-load-check --preflight --warehouse duckdb     # the DuckDB file (BNPL_DUCKDB_PATH)

It reads the variables the loaders read: TARGET_BIGQUERY_PROJECT / BNPL_GCP_PROJECT,
TARGET_BIGQUERY_DATASET (default bnpl_raw), TARGET_BIGQUERY_LOCATION / BNPL_BQ_LOCATION
(default US), BNPL_DUCKDB_PATH. Exit codes: 0 the warehouse can take the load, 1 it cannot
(one line on stderr naming the setting), 2 called without --preflight.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from bnpl_load_check import PreflightError
from bnpl_load_check.bigquery import check_reachable, validate_names
from bnpl_load_check.duckdb_file import check_duckdb_path

PROG = "load-check"


def default_duckdb_path() -> Path:
    """output/bnpl.duckdb of the Meltano project (Meltano runs plugins from its root)."""
    return Path(os.environ.get("MELTANO_PROJECT_ROOT") or Path.cwd()) / "output" / "bnpl.duckdb"


def preflight(args: argparse.Namespace) -> int:
    """Check the warehouse the arguments name; print what was found, or the one problem."""
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
        print(f"{PROG}: preflight: {exc}", file=sys.stderr)
        return 1
    print(f"{PROG}: preflight OK: {found}")
    return 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bnpl-load-check",
        description="Pre-flight check of the loader's warehouse, before anything is extracted.",
    )
    parser.add_argument(
        "--warehouse",
        choices=["duckdb", "bigquery"],
        default=os.environ.get("BNPL_LOAD_CHECK_WAREHOUSE", "duckdb"),
        help="Warehouse the loader writes to (BNPL_LOAD_CHECK_WAREHOUSE).",
    )
    parser.add_argument(
        "--duckdb-path",
        default=os.environ.get("BNPL_DUCKDB_PATH", str(default_duckdb_path())),
        help="DuckDB file (BNPL_DUCKDB_PATH, else output/bnpl.duckdb of the project).",
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
            f"{PROG}: --preflight: required (the per-day load counts are dbt's "
            "int_bnpl_daily_reconciliation, checked by the quality gate)",
            file=sys.stderr,
        )
        return 2
    return preflight(args)
