"""Post-load check: the raw rows of every extracted day match what the tap says it emitted.

Loaders can report success after losing rows (z3-target-bigquery exits 0 and emits STATE
after a failed load job), so the job runs this right after the loader. For each day, the
latest extraction of it in extraction_log (by finished_at) says how many transactions and
quarantined lines that run emitted; the raw tables must hold exactly that many rows of
that run and day. Works on both warehouses:

    python scripts/check_load.py --warehouse duckdb     # raw.* in BNPL_DUCKDB_PATH
    python scripts/check_load.py --warehouse bigquery   # bnpl_raw.* in BNPL_GCP_PROJECT

Exits 1 with one line per mismatched day, 2 when the raw layer cannot be read. BigQuery
credentials come from the environment only (GOOGLE_APPLICATION_CREDENTIALS or
application-default credentials).

Before the tap, the BigQuery jobs run the pre-flight check of the loader's configuration:

    python scripts/check_load.py --preflight            # project, dataset, location

It validates the project id, the raw dataset id and the location against BigQuery's
naming rules, then asks BigQuery whether the dataset exists in that location, or, when it
does not exist yet, whether the project can be reached to create it. On any problem it
prints one line naming the setting and what was expected, and exits 1 before anything is
extracted, loaded or saved as state. It reads the variables the loader reads:
TARGET_BIGQUERY_PROJECT / BNPL_GCP_PROJECT, TARGET_BIGQUERY_DATASET (default bnpl_raw),
TARGET_BIGQUERY_LOCATION / BNPL_BQ_LOCATION (default US).

The DuckDB jobs run the same step for the DuckDB file (BNPL_DUCKDB_PATH):

    python scripts/check_load.py --preflight --warehouse duckdb

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
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


class CheckError(RuntimeError):
    """The raw layer could not be read (missing table, unreachable warehouse)."""


@dataclass(frozen=True)
class DayCount:
    """One extracted day: what its latest extraction emitted and what the raw tables hold."""

    day: date
    run_id: str | None
    emitted: int | None
    loaded: int
    quarantined: int | None
    quarantine_loaded: int

    @property
    def problems(self) -> list[str]:
        if self.run_id is None:
            return [
                f"{self.day}: {self.loaded} raw transactions and {self.quarantine_loaded} "
                "quarantined lines but no extraction_log row for the run that loaded them "
                "(the extraction_log load failed)"
            ]
        found = []
        if self.loaded != self.emitted:
            found.append(
                f"{self.day}: raw transactions holds {self.loaded} rows of run {self.run_id}, "
                f"extraction_log says {self.emitted} were emitted"
            )
        if self.quarantine_loaded != self.quarantined:
            found.append(
                f"{self.day}: raw quarantine holds {self.quarantine_loaded} rows of run "
                f"{self.run_id}, extraction_log says {self.quarantined} were quarantined"
            )
        return found


# {log}, {transactions}, {quarantine} are the raw tables. The latest extraction of a day
# wins: both loaders append, so older runs' rows of a re-extracted day stay beside the new
# ones (staging deduplicates) and only the latest run's rows are counted.
COUNT_SQL = """
with ranked_log as (
    select
        extraction_date,
        extraction_run_id,
        records_emitted,
        records_quarantined,
        row_number() over (
            partition by extraction_date
            order by finished_at desc, extraction_run_id desc
        ) as recency
    from {log}
),
latest_extractions as (
    select * from ranked_log where recency = 1
),
loaded_transactions as (
    select transaction_date as day, extraction_run_id, count(*) as loaded
    from {transactions}
    group by 1, 2
),
loaded_quarantine as (
    select extraction_date as day, extraction_run_id, count(*) as loaded
    from {quarantine}
    where extraction_date is not null
    group by 1, 2
),
loaded_runs as (
    select day, extraction_run_id from loaded_transactions
    union distinct
    select day, extraction_run_id from loaded_quarantine
),
orphan_runs as (
    -- rows of a run that has no extraction_log row for that day at all
    select loaded_runs.day, loaded_runs.extraction_run_id
    from loaded_runs
    left join ranked_log
        on ranked_log.extraction_date = loaded_runs.day
        and ranked_log.extraction_run_id = loaded_runs.extraction_run_id
    where ranked_log.extraction_run_id is null
)
select
    latest_extractions.extraction_date as day,
    latest_extractions.extraction_run_id as run_id,
    latest_extractions.records_emitted as emitted,
    coalesce(loaded_transactions.loaded, 0) as loaded,
    latest_extractions.records_quarantined as quarantined,
    coalesce(loaded_quarantine.loaded, 0) as quarantine_loaded
from latest_extractions
left join loaded_transactions
    on loaded_transactions.day = latest_extractions.extraction_date
    and loaded_transactions.extraction_run_id = latest_extractions.extraction_run_id
left join loaded_quarantine
    on loaded_quarantine.day = latest_extractions.extraction_date
    and loaded_quarantine.extraction_run_id = latest_extractions.extraction_run_id
union all
select
    orphan_runs.day,
    cast(null as {string_type}) as run_id,
    cast(null as {int_type}) as emitted,
    coalesce(loaded_transactions.loaded, 0) as loaded,
    cast(null as {int_type}) as quarantined,
    coalesce(loaded_quarantine.loaded, 0) as quarantine_loaded
from orphan_runs
left join loaded_transactions
    on loaded_transactions.day = orphan_runs.day
    and loaded_transactions.extraction_run_id = orphan_runs.extraction_run_id
left join loaded_quarantine
    on loaded_quarantine.day = orphan_runs.day
    and loaded_quarantine.extraction_run_id = orphan_runs.extraction_run_id
order by day
"""

EMPTY_QUARANTINE = (
    "(select cast(null as date) as extraction_date, "
    "cast(null as {string_type}) as extraction_run_id limit 0)"
)


class DuckDBRaw:
    """raw.* in the DuckDB file the loader writes."""

    string_type, int_type = "varchar", "bigint"

    def __init__(self, path: Path, schema: str = "raw") -> None:
        import duckdb

        if not path.is_file():
            raise CheckError(f"duckdb_path: {path} does not exist (set BNPL_DUCKDB_PATH)")
        self.schema = schema
        self.connection = duckdb.connect(str(path), read_only=True)

    def table(self, name: str) -> str | None:
        found = self.connection.execute(
            "select 1 from information_schema.tables where table_schema = ? and table_name = ?",
            [self.schema, name],
        ).fetchone()
        return f'"{self.schema}"."{name}"' if found else None

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return self.connection.execute(sql).fetchall()


class BigQueryRaw:
    """bnpl_raw.* in BigQuery; credentials from the environment only."""

    string_type, int_type = "string", "int64"

    def __init__(self, project: str, location: str, dataset: str = "bnpl_raw") -> None:
        from google.cloud import bigquery

        self.client = bigquery.Client(project=project, location=location)
        self.project, self.dataset = project, dataset

    def table(self, name: str) -> str | None:
        from google.api_core.exceptions import NotFound

        try:
            self.client.get_table(f"{self.project}.{self.dataset}.{name}")
        except NotFound:
            return None
        return f"`{self.project}.{self.dataset}.{name}`"

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(row.values()) for row in self.client.query_and_wait(sql)]


def day_counts(raw: DuckDBRaw | BigQueryRaw) -> list[DayCount]:
    """Expected and loaded rows per extracted day, from the latest extraction of each day."""
    log, transactions = raw.table("extraction_log"), raw.table("transactions")
    for name, ref in (("extraction_log", log), ("transactions", transactions)):
        if ref is None:
            raise CheckError(f"raw table {name} does not exist: has anything been loaded yet?")
    # The loaders create a table with its first batch, and a clean run may quarantine nothing.
    quarantine = raw.table("quarantine") or EMPTY_QUARANTINE.format(string_type=raw.string_type)
    sql = COUNT_SQL.format(
        log=log,
        transactions=transactions,
        quarantine=quarantine,
        string_type=raw.string_type,
        int_type=raw.int_type,
    )
    return [
        DayCount(
            day=day if isinstance(day, date) else date.fromisoformat(str(day)),
            run_id=run_id,
            emitted=None if emitted is None else int(emitted),
            loaded=int(loaded),
            quarantined=None if quarantined is None else int(quarantined),
            quarantine_loaded=int(quarantine_loaded),
        )
        for day, run_id, emitted, loaded, quarantined, quarantine_loaded in raw.rows(sql)
    ]


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


def open_raw(args: argparse.Namespace) -> DuckDBRaw | BigQueryRaw:
    if args.warehouse == "duckdb":
        return DuckDBRaw(Path(args.duckdb_path), schema=args.raw_schema or "raw")
    if not args.project:
        raise CheckError("project: required for warehouse bigquery (set BNPL_GCP_PROJECT)")
    return BigQueryRaw(args.project, args.location, dataset=args.raw_schema or "bnpl_raw")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--warehouse",
        choices=["duckdb", "bigquery"],
        default=os.environ.get("BNPL_LOAD_CHECK_WAREHOUSE", "duckdb"),
        help="Warehouse whose raw layer to check (BNPL_LOAD_CHECK_WAREHOUSE).",
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
        help="Schema (DuckDB, default raw) or dataset (BigQuery, default bnpl_raw) to check.",
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
    if args.preflight:
        return preflight(args)
    try:
        counts = day_counts(open_raw(args))
    except CheckError as exc:
        print(f"check_load: {exc}", file=sys.stderr)
        return 2
    problems = [problem for count in counts for problem in count.problems]
    for problem in problems:
        print(f"check_load: {problem}", file=sys.stderr)
    checked = [count for count in counts if count.run_id is not None]
    if problems:
        print(
            f"check_load: FAILED on {args.warehouse}: {len(problems)} mismatch(es) over "
            f"{len(counts)} day(s)",
            file=sys.stderr,
        )
        return 1
    total = sum(count.loaded for count in checked)
    span = f"{checked[0].day}..{checked[-1].day}" if checked else "no days"
    print(
        f"check_load: OK on {args.warehouse}: {len(checked)} day(s) ({span}), "
        f"{total} raw transactions match extraction_log"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
