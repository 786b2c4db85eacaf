"""The run log: one row per job run in the warehouse, and a notice when a run fails.

Every run of a project job gets a row in `pipeline_runs` (DuckDB: schema `ops` of
BNPL_DUCKDB_PATH; BigQuery: dataset `bnpl_ops` of BNPL_GCP_PROJECT) when it starts, and the
row is finished as `success`, `failed` or `killed`. A failed or killed run sends one JSON
POST to BNPL_FAILURE_WEBHOOK_URL (when set). The notice goes out only when this module
moves the row from `running` to `failed`/`killed`, so each run is announced exactly once
whoever notices it first; a webhook that is down costs one line on stderr, nothing else.

Used in-process by scripts/run_job.py (`make run`, `make backfill`), and through this CLI
by the Airflow callbacks (orchestrate/airflow/dags/meltano_schedules.py):

    python scripts/run_log.py start  --run-id ID --job daily [--orchestrator airflow]
    python scripts/run_log.py finish --run-id ID --status failed --failing-step STEP \
        --exit-code 1 [--error-tail-file FILE]
    python scripts/run_log.py sweep   # mark `running` rows whose process is gone `killed`

A run killed with `kill -9` cannot finish its own row: the next run (or `sweep`) finds a
`running` row of this host whose process is gone and marks it `killed`. Airflow rows carry
no process id: Airflow itself notices a dead task and calls the failure callback.
"""

from __future__ import annotations

import abc
import argparse
import contextlib
import json
import os
import socket
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STATUSES = ("running", "success", "failed", "killed")
ERROR_TAIL_LINES = 40
WEBHOOK_TIMEOUT_SECONDS = 10.0
DUCKDB_SCHEMA = "ops"
BIGQUERY_DATASET = "bnpl_ops"
TABLE = "pipeline_runs"

# (column, DuckDB type, BigQuery type); the table both warehouses hold.
COLUMNS = (
    ("run_id", "VARCHAR NOT NULL", "STRING NOT NULL"),
    ("job", "VARCHAR NOT NULL", "STRING NOT NULL"),
    ("environment", "VARCHAR NOT NULL", "STRING NOT NULL"),
    ("orchestrator", "VARCHAR NOT NULL", "STRING NOT NULL"),
    ("status", "VARCHAR NOT NULL", "STRING NOT NULL"),
    ("started_at", "TIMESTAMP NOT NULL", "TIMESTAMP NOT NULL"),
    ("ended_at", "TIMESTAMP", "TIMESTAMP"),
    ("current_step", "VARCHAR", "STRING"),
    ("failing_step", "VARCHAR", "STRING"),
    ("exit_code", "INTEGER", "INT64"),
    ("error_tail", "VARCHAR", "STRING"),
    ("days_loaded", "INTEGER", "INT64"),
    ("first_day", "DATE", "DATE"),
    ("last_day", "DATE", "DATE"),
    ("rows_loaded", "BIGINT", "INT64"),
    ("host", "VARCHAR", "STRING"),
    ("pid", "INTEGER", "INT64"),
    ("log_file", "VARCHAR", "STRING"),
)


def _say(message: str) -> None:
    print(f"run_log: {message}", file=sys.stderr, flush=True)


def utc_now() -> datetime:
    """Now in UTC, without tzinfo: the raw tables' TIMESTAMP columns hold UTC that way."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


@dataclass
class Run:
    """One row of pipeline_runs."""

    run_id: str
    job: str
    environment: str
    orchestrator: str = "make"
    status: str = "running"
    started_at: datetime = field(default_factory=utc_now)
    ended_at: datetime | None = None
    current_step: str | None = None
    failing_step: str | None = None
    exit_code: int | None = None
    error_tail: str | None = None
    days_loaded: int | None = None
    first_day: date | None = None
    last_day: date | None = None
    rows_loaded: int | None = None
    host: str | None = field(default_factory=socket.gethostname)
    pid: int | None = field(default_factory=os.getpid)
    log_file: str | None = None


@dataclass(frozen=True)
class Loaded:
    """What a run loaded into raw: the extraction days and the transaction rows."""

    days: int
    first_day: date | None
    last_day: date | None
    rows: int


class RunLog(abc.ABC):
    """pipeline_runs in one warehouse. Each call is short: no connection is kept open,
    because the DuckDB file has one writer and the job's steps need it in between."""

    @abc.abstractmethod
    def start(self, run: Run) -> None:
        """Insert the run as `running`; a run id seen before (an Airflow run cleared and
        run again) goes back to `running`."""

    @abc.abstractmethod
    def set_step(self, run_id: str, step: str) -> None:
        """The step the run is in now."""

    @abc.abstractmethod
    def get(self, run_id: str) -> Run | None:
        """The row of run_id."""

    @abc.abstractmethod
    def running(self) -> list[Run]:
        """Every row still `running`."""

    @abc.abstractmethod
    def next_start(self, after: datetime) -> datetime | None:
        """When the first run started after `after` (where a killed run's window ends)."""

    @abc.abstractmethod
    def loaded(self, since: datetime, until: datetime) -> Loaded:
        """Days and transactions the tap requested between since and until and raw holds."""

    @abc.abstractmethod
    def _close(self, run: Run) -> bool:
        """Write run's end if its row is still `running`; True when this call did it."""

    def finish(self, run: Run) -> bool:
        """End the run with its status, what it loaded, and (failed or killed) its notice.

        Returns True when this call ended it; False when the row was not `running` any more
        (another process ended it first), in which case nothing is written or sent."""
        if run.status not in STATUSES[1:]:
            raise ValueError(f"status: expected one of {', '.join(STATUSES[1:])}, got {run.status}")
        run.ended_at = run.ended_at or utc_now()
        stats = self.loaded(run.started_at, run.ended_at)
        run.days_loaded, run.first_day, run.last_day = stats.days, stats.first_day, stats.last_day
        run.rows_loaded = stats.rows
        if not self._close(run):
            return False
        if run.status in ("failed", "killed"):
            notify_failure(run)
        return True

    def sweep(self, host: str | None = None) -> list[Run]:
        """Mark `killed` every `running` row of this host whose process is gone."""
        host = host or socket.gethostname()
        killed = []
        for run in self.running():
            if run.pid is None or run.host != host or process_alive(run.pid):
                continue
            run.status = "killed"
            run.failing_step = run.current_step
            run.ended_at = self.next_start(run.started_at) or utc_now()
            run.error_tail = read_tail(Path(run.log_file)) if run.log_file else None
            if self.finish(run):
                killed.append(run)
                _say(f"run {run.run_id} of job {run.job} was killed (process {run.pid} gone)")
        return killed


def process_alive(pid: int) -> bool:
    """Whether pid is a live process other than a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError, IndexError):
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    return True


def read_tail(path: Path, lines: int = ERROR_TAIL_LINES) -> str | None:
    """The last lines of a log file (None when there is none)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 64 * 1024))
            text = handle.read().decode(errors="replace")
    except OSError:
        return None
    return "\n".join(text.splitlines()[-lines:]) or None


# --- DuckDB ----------------------------------------------------------------------------


class DuckDBRunLog(RunLog):
    """ops.pipeline_runs in the DuckDB file the job loads (BNPL_DUCKDB_PATH)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextlib.contextmanager
    def _connect(self) -> Iterator[Any]:
        import duckdb

        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(self.path))
        try:
            columns = ", ".join(f"{name} {kind}" for name, kind, _ in COLUMNS)
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {DUCKDB_SCHEMA}")
            con.execute(f"CREATE TABLE IF NOT EXISTS {DUCKDB_SCHEMA}.{TABLE} ({columns})")
            yield con
        finally:
            con.close()

    def start(self, run: Run) -> None:
        row = asdict(run)
        with self._connect() as con:
            updated = con.execute(
                f"UPDATE {DUCKDB_SCHEMA}.{TABLE} SET status = 'running', ended_at = NULL, "
                "failing_step = NULL, exit_code = NULL, error_tail = NULL "
                "WHERE run_id = ? RETURNING run_id",
                [run.run_id],
            ).fetchall()
            if not updated:
                names = ", ".join(row)
                marks = ", ".join("?" for _ in row)
                con.execute(
                    f"INSERT INTO {DUCKDB_SCHEMA}.{TABLE} ({names}) VALUES ({marks})",
                    list(row.values()),
                )

    def set_step(self, run_id: str, step: str) -> None:
        with self._connect() as con:
            con.execute(
                f"UPDATE {DUCKDB_SCHEMA}.{TABLE} SET current_step = ? WHERE run_id = ?",
                [step, run_id],
            )

    def _select(self, where: str, params: list[Any]) -> list[Run]:
        with self._connect() as con:
            cursor = con.execute(f"SELECT * FROM {DUCKDB_SCHEMA}.{TABLE} WHERE {where}", params)
            names = [d[0] for d in cursor.description]
            return [Run(**dict(zip(names, row, strict=True))) for row in cursor.fetchall()]

    def get(self, run_id: str) -> Run | None:
        found = self._select("run_id = ?", [run_id])
        return found[0] if found else None

    def running(self) -> list[Run]:
        return self._select("status = 'running' ORDER BY started_at", [])

    def next_start(self, after: datetime) -> datetime | None:
        with self._connect() as con:
            return con.execute(
                f"SELECT min(started_at) FROM {DUCKDB_SCHEMA}.{TABLE} WHERE started_at > ?",
                [after],
            ).fetchone()[0]

    def loaded(self, since: datetime, until: datetime) -> Loaded:
        with self._connect() as con:
            tables = {
                name
                for (name,) in con.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'raw'"
                ).fetchall()
            }
            days, first, last = (0, None, None)
            rows = 0
            if "extraction_log" in tables:
                days, first, last = con.execute(
                    "SELECT count(DISTINCT extraction_date), min(extraction_date), "
                    "max(extraction_date) FROM raw.extraction_log "
                    "WHERE requested_at BETWEEN ? AND ?",
                    [since, until],
                ).fetchone()
            if "transactions" in tables:
                (rows,) = con.execute(
                    "SELECT count(*) FROM raw.transactions WHERE requested_at BETWEEN ? AND ?",
                    [since, until],
                ).fetchone()
        return Loaded(int(days), first, last, int(rows))

    def _close(self, run: Run) -> bool:
        ending = {k: v for k, v in asdict(run).items() if k not in _IDENTITY}
        sets = ", ".join(f"{name} = ?" for name in ending)
        with self._connect() as con:
            done = con.execute(
                f"UPDATE {DUCKDB_SCHEMA}.{TABLE} SET {sets} "
                "WHERE run_id = ? AND status = 'running' RETURNING run_id",
                [*ending.values(), run.run_id],
            ).fetchall()
        return bool(done)


# Columns a run's end does not rewrite.
_IDENTITY = ("run_id", "job", "environment", "orchestrator", "started_at", "host", "pid")


# --- BigQuery --------------------------------------------------------------------------


class BigQueryRunLog(RunLog):
    """bnpl_ops.pipeline_runs in BNPL_GCP_PROJECT; the tap's rows are read from the raw
    dataset target-bigquery loads (TARGET_BIGQUERY_DATASET, default bnpl_raw)."""

    def __init__(self, project: str, location: str, raw_dataset: str) -> None:
        from google.cloud import bigquery

        self.bigquery = bigquery
        self.client = bigquery.Client(project=project, location=location)
        self.table = f"`{project}.{BIGQUERY_DATASET}.{TABLE}`"
        self.raw = f"`{project}.{raw_dataset}`"
        self.project, self.location = project, location
        self._ready = False

    def _query(self, sql: str, **params: Any) -> Any:
        if not self._ready:
            dataset = self.bigquery.Dataset(f"{self.project}.{BIGQUERY_DATASET}")
            dataset.location = self.location
            self.client.create_dataset(dataset, exists_ok=True)
            columns = ", ".join(f"{name} {kind}" for name, _, kind in COLUMNS)
            self.client.query(f"CREATE TABLE IF NOT EXISTS {self.table} ({columns})").result()
            self._ready = True
        config = self.bigquery.QueryJobConfig(
            query_parameters=[self._param(name, value) for name, value in params.items()]
        )
        return self.client.query(sql, job_config=config)

    def _param(self, name: str, value: Any) -> Any:
        kind = dict((column, bq.split()[0]) for column, _, bq in COLUMNS).get(name, "STRING")
        if name in ("since", "until", "after"):
            kind = "TIMESTAMP"
        return self.bigquery.ScalarQueryParameter(name, kind, value)

    def start(self, run: Run) -> None:
        row = asdict(run)
        job = self._query(
            f"UPDATE {self.table} SET status = 'running', ended_at = NULL, failing_step = NULL, "
            "exit_code = NULL, error_tail = NULL WHERE run_id = @run_id",
            run_id=run.run_id,
        )
        job.result()
        if not job.num_dml_affected_rows:
            names = ", ".join(row)
            marks = ", ".join(f"@{name}" for name in row)
            self._query(f"INSERT INTO {self.table} ({names}) VALUES ({marks})", **row).result()

    def set_step(self, run_id: str, step: str) -> None:
        self._query(
            f"UPDATE {self.table} SET current_step = @current_step WHERE run_id = @run_id",
            current_step=step,
            run_id=run_id,
        ).result()

    def _select(self, where: str, **params: Any) -> list[Run]:
        rows = self._query(f"SELECT * FROM {self.table} WHERE {where}", **params).result()
        return [Run(**{k: _naive(v) for k, v in dict(row).items()}) for row in rows]

    def get(self, run_id: str) -> Run | None:
        found = self._select("run_id = @run_id", run_id=run_id)
        return found[0] if found else None

    def running(self) -> list[Run]:
        return self._select("status = 'running' ORDER BY started_at")

    def next_start(self, after: datetime) -> datetime | None:
        rows = list(
            self._query(
                f"SELECT min(started_at) AS first FROM {self.table} WHERE started_at > @after",
                after=after,
            ).result()
        )
        return _naive(rows[0]["first"]) if rows else None

    def loaded(self, since: datetime, until: datetime) -> Loaded:
        from google.api_core.exceptions import NotFound

        window = "requested_at BETWEEN @since AND @until"
        try:
            (days,) = self._query(
                "SELECT count(DISTINCT extraction_date) AS days, min(extraction_date) AS first, "
                f"max(extraction_date) AS last FROM {self.raw}.extraction_log WHERE {window}",
                since=since,
                until=until,
            ).result()
            (rows,) = self._query(
                f"SELECT count(*) AS n FROM {self.raw}.transactions WHERE {window}",
                since=since,
                until=until,
            ).result()
        except NotFound:  # no raw tables yet: nothing was loaded
            return Loaded(0, None, None, 0)
        return Loaded(int(days["days"]), days["first"], days["last"], int(rows["n"]))

    def _close(self, run: Run) -> bool:
        ending = {k: v for k, v in asdict(run).items() if k not in _IDENTITY}
        sets = ", ".join(f"{name} = @{name}" for name in ending)
        job = self._query(
            f"UPDATE {self.table} SET {sets} WHERE run_id = @run_id AND status = 'running'",
            **ending,
            run_id=run.run_id,
        )
        job.result()
        return bool(job.num_dml_affected_rows)


def _naive(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


# --- choosing the warehouse, the notice -------------------------------------------------


def warehouse_for(environment: str) -> str:
    """BNPL_RUN_LOG_WAREHOUSE, else the environment's: prod loads BigQuery, dev DuckDB."""
    chosen = os.environ.get("BNPL_RUN_LOG_WAREHOUSE") or (
        "bigquery" if environment == "prod" else "duckdb"
    )
    if chosen not in ("duckdb", "bigquery"):
        raise ValueError(f"BNPL_RUN_LOG_WAREHOUSE: expected duckdb or bigquery, got {chosen}")
    return chosen


def python_for(warehouse: str) -> str:
    """A Python that can write the run log of `warehouse`, for callers outside the project
    venv (Airflow): BNPL_RUN_LOG_PYTHON, else the project venv's (DuckDB) or the load-check
    utility's venv, which holds the Google client (BigQuery)."""
    if explicit := os.environ.get("BNPL_RUN_LOG_PYTHON"):
        return explicit
    if warehouse == "bigquery":
        return str(ROOT / ".meltano" / "utilities" / "load-check" / "venv" / "bin" / "python")
    return str(ROOT / ".venv" / "bin" / "python")


def log_dir() -> Path:
    """Where runs keep their steps' output: BNPL_RUN_LOG_DIR, else output/logs/runs."""
    return Path(os.environ.get("BNPL_RUN_LOG_DIR") or ROOT / "output" / "logs" / "runs")


def open_run_log(environment: str) -> RunLog:
    """The run log of the warehouse the environment loads, configured from the environment
    variables the loaders read."""
    if warehouse_for(environment) == "duckdb":
        path = os.environ.get("BNPL_DUCKDB_PATH") or str(ROOT / "output" / "bnpl.duckdb")
        return DuckDBRunLog(Path(path))
    project = os.environ.get("TARGET_BIGQUERY_PROJECT") or os.environ.get("BNPL_GCP_PROJECT")
    if not project:
        raise ValueError("BNPL_GCP_PROJECT: expected the GCP project holding bnpl_ops, got nothing")
    location = (
        os.environ.get("TARGET_BIGQUERY_LOCATION") or os.environ.get("BNPL_BQ_LOCATION") or "US"
    )
    raw = os.environ.get("TARGET_BIGQUERY_DATASET") or "bnpl_raw"
    return BigQueryRunLog(project, location, raw)


def notice(run: Run) -> dict[str, Any]:
    """The JSON body of a failure notice."""
    return {
        "event": f"pipeline_run_{run.status}",
        "status": run.status,
        "job": run.job,
        "environment": run.environment,
        "run_id": run.run_id,
        "orchestrator": run.orchestrator,
        "failing_step": run.failing_step,
        "exit_code": run.exit_code,
        "error_tail": run.error_tail,
        "started_at": run.started_at.isoformat() + "Z",
        "ended_at": run.ended_at.isoformat() + "Z" if run.ended_at else None,
        "host": run.host,
    }


def notify_failure(run: Run, url: str | None = None) -> bool:
    """POST the notice to BNPL_FAILURE_WEBHOOK_URL; False (and one line) if it failed."""
    url = url or os.environ.get("BNPL_FAILURE_WEBHOOK_URL")
    if not url:
        return False
    # Webhook URLs often carry a token in their path: only the host is ever printed.
    where = urllib.parse.urlsplit(url).netloc or "the webhook"
    request = urllib.request.Request(
        url,
        data=json.dumps(notice(run)).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:
            response.read()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        _say(f"failure notice for run {run.run_id} not delivered to {where}: {reason}")
        return False
    _say(f"failure notice for run {run.run_id} sent to {where}")
    return True


# --- the CLI the Airflow callbacks use --------------------------------------------------


def _environment(given: str | None) -> str:
    if given:
        return given
    if from_env := os.environ.get("MELTANO_ENVIRONMENT"):
        return from_env
    import yaml

    document = yaml.safe_load((ROOT / "meltano.yml").read_text()) or {}
    return str(document.get("default_environment") or "dev")


@contextlib.contextmanager
def _project_lock(environment: str, wait_seconds: float) -> Iterator[None]:
    """The project's job lock while writing DuckDB: a `make run` may hold the file."""
    if warehouse_for(environment) != "duckdb":
        yield
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import job_lock

    lock_file = job_lock.default_lock_file()
    fd = job_lock.acquire(lock_file, wait_seconds)
    if fd is None:
        raise TimeoutError(f"the job lock {lock_file} was held for {wait_seconds:g} s")
    try:
        yield
    finally:
        os.close(fd)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="run_log.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--environment", help="Meltano environment (default: as meltano runs)")
    parser.add_argument("--lock-wait", type=float, default=1800.0, metavar="SECONDS")
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("start", help="record a run as running")
    start.add_argument("--run-id", required=True)
    start.add_argument("--job", required=True)
    start.add_argument("--orchestrator", default="make")
    start.add_argument("--no-pid", action="store_true", help="no process stands for the run")
    step = commands.add_parser("step", help="record the step a run is in")
    step.add_argument("--run-id", required=True)
    step.add_argument("step")
    finish = commands.add_parser("finish", help="end a run; a failed one sends the notice")
    finish.add_argument("--run-id", required=True)
    finish.add_argument("--status", required=True, choices=STATUSES[1:])
    finish.add_argument("--failing-step")
    finish.add_argument("--exit-code", type=int)
    finish.add_argument("--error-tail-file", type=Path)
    commands.add_parser("sweep", help="mark runs whose process is gone as killed")
    args = parser.parse_args(argv)
    environment = _environment(args.environment)
    try:
        with _project_lock(environment, args.lock_wait):
            log = open_run_log(environment)
            if args.command == "start":
                run = Run(args.run_id, args.job, environment, orchestrator=args.orchestrator)
                if args.no_pid:
                    run.pid = None
                log.start(run)
            elif args.command == "step":
                log.set_step(args.run_id, args.step)
            elif args.command == "finish":
                run = log.get(args.run_id)
                if run is None:
                    _say(f"run {args.run_id}: no such run in {TABLE}")
                    return 1
                if run.status != "running":
                    return 0
                run.status, run.exit_code = args.status, args.exit_code
                run.failing_step = args.failing_step if args.status != "success" else None
                if args.error_tail_file:
                    run.error_tail = read_tail(args.error_tail_file)
                log.finish(run)
            else:
                log.sweep()
    except Exception as exc:  # one line, whatever went wrong
        _say(f"{args.command} not recorded: {type(exc).__name__}: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
