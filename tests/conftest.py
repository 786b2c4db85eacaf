"""Fixtures for the project-level tests: real `meltano run`, a real DuckDB file, and the
local simtom-compatible server over loopback.

Each test gets its own Meltano system database (so its own state), its own `.meltano/run/`,
DuckDB file, dbt target folder and report folder under pytest's tmp_path; the plugin venvs
under .meltano/ are shared and must have been installed (`make install`). So tests can run
in parallel (`pytest -n 2`, pytest-xdist).

A job run takes tens of seconds, so the warehouses several tests start from are built once
per session (`built_once`, one build shared by the xdist workers) and each test continues
from a copy of its own (`copy_project`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import resource
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from simtom_local import SimtomServer

ROOT = Path(__file__).resolve().parent.parent
# Every mart the dbt project builds: one model file each.
MART_MODELS = sorted(path.stem for path in (ROOT / "transform" / "models" / "marts").glob("*.sql"))
STATE_ID = "dev:tap-simtom-bnpl-to-target-duckdb-append"
# Small days keep a job run to seconds; the count of a day still follows simtom's calendar.
BASE_DAILY_VOLUME = 100
SEED = 42
JOB_TIMEOUT_SECONDS = 900

# Variables from the caller's shell that would steer the job away from the test's setup.
_LEAKY_PREFIXES = (
    "TAP_SIMTOM_BNPL_",
    "TARGET_DUCKDB_APPEND_",
    "TARGET_BIGQUERY_",
    "DBT_",
    "BNPL_",
    "QUALITY_",
)
_LEAKY_NAMES = ("MELTANO_ENVIRONMENT", "MELTANO_DATABASE_URI", "MELTANO_STATE_BACKEND_URI")


def meltano_executable() -> Path:
    """The project's meltano, beside the interpreter running the tests (.venv/bin)."""
    beside = Path(sys.executable).parent / "meltano"
    if beside.exists():
        return beside
    found = shutil.which("meltano")
    if found is None:
        pytest.fail("meltano is not installed: run `make install` first")
    return Path(found)


@dataclass
class JobRun:
    """One finished `meltano` invocation."""

    args: tuple[str, ...]
    returncode: int
    output: str
    log_path: Path

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.output.splitlines()[-lines:])


@dataclass
class Project:
    """The repository's Meltano project, isolated to one test's scratch folder."""

    workdir: Path
    api_url: str
    extra_env: dict[str, str] = field(default_factory=dict)
    runs: int = 0

    @property
    def duckdb_path(self) -> Path:
        return self.workdir / "bnpl.duckdb"

    @property
    def report_dir(self) -> Path:
        return self.workdir / "reports"

    @property
    def batch_dir(self) -> Path:
        """Where the tap writes its batch files (dev runs in BATCH mode)."""
        return self.workdir / "batches"

    @property
    def sys_dir(self) -> Path:
        """This project's MELTANO_SYS_DIR_ROOT: its own `.meltano/run/` (the extractor's
        catalog and each plugin's config file live there, and a run deletes them when it
        ends), the installed plugin venvs linked in."""
        sys_dir = self.workdir / "meltano-sys"
        sys_dir.mkdir(parents=True, exist_ok=True)
        for kind in ("extractors", "loaders", "utilities"):
            link = sys_dir / kind
            if not link.is_symlink():
                link.symlink_to(ROOT / ".meltano" / kind, target_is_directory=True)
        return sys_dir

    def env(self, **overrides: str) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(_LEAKY_PREFIXES) and key not in _LEAKY_NAMES
        }
        env.update(
            {
                "MELTANO_ENVIRONMENT": "dev",
                "MELTANO_DATABASE_URI": f"sqlite:///{self.workdir / 'meltano.db'}",
                "MELTANO_SYS_DIR_ROOT": str(self.sys_dir),
                "MELTANO_CLI_DISABLE_VERSION_CHECK": "true",
                "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
                "BNPL_DUCKDB_PATH": str(self.duckdb_path),
                # The quality utility's own setting variable: its report_dir default would
                # otherwise win over BNPL_QUALITY_REPORT_DIR and write into output/.
                "QUALITY_REPORT_DIR": str(self.report_dir),
                "DBT_TARGET_PATH": str(self.workdir / "dbt-target"),
                "DBT_LOG_PATH": str(self.workdir / "dbt-logs"),
                "TAP_SIMTOM_BNPL_API_URL": self.api_url,
                "TAP_SIMTOM_BNPL_BASE_DAILY_VOLUME": str(BASE_DAILY_VOLUME),
                "TAP_SIMTOM_BNPL_SEED": str(SEED),
            }
        )
        env.update(self.extra_env)
        if env["MELTANO_ENVIRONMENT"] == "dev":
            # The dev batch_config with its files in the test's folder: a batch location
            # takes one run at a time. Meltano merges this into meltano.yml's value; prod
            # has no batch_config to merge into (target-bigquery takes RECORD messages).
            env.setdefault(
                "TAP_SIMTOM_BNPL_BATCH_CONFIG",
                json.dumps({"storage": {"root": self.batch_dir.as_uri(), "prefix": "test-"}}),
            )
        env.update(overrides)
        return env

    def meltano(self, *args: str, **env_overrides: str) -> JobRun:
        """Run `meltano ARGS` in the project root; output goes to a log file too."""
        self.runs += 1
        log_path = self.workdir / f"meltano-{self.runs:02d}-{args[0]}.log"
        completed = subprocess.run(
            [str(meltano_executable()), *args],
            cwd=ROOT,
            env=self.env(**env_overrides),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=JOB_TIMEOUT_SECONDS,
            check=False,
        )
        log_path.write_text(completed.stdout)
        return JobRun(tuple(args), completed.returncode, completed.stdout, log_path)

    def run_job(self, job: str, start: str | None, end: str, **env_overrides: str) -> JobRun:
        """`meltano run JOB` in dev up to END, from START (None: the dev start_date)."""
        if start is not None:
            env_overrides["TAP_SIMTOM_BNPL_START_DATE"] = start
        return self.meltano("run", job, TAP_SIMTOM_BNPL_END_DATE=end, **env_overrides)

    def extract_load(self, start: str, end: str, *args: str) -> str:
        """`meltano run [ARGS] tap-simtom-bnpl target-duckdb-append` for START..END; its output.

        Continues from state unless ARGS say otherwise (e.g. --full-refresh); fails the
        test with the run's last lines when it exits non-zero.
        """
        run = self.meltano(
            "run",
            *args,
            "tap-simtom-bnpl",
            "target-duckdb-append",
            TAP_SIMTOM_BNPL_START_DATE=start,
            TAP_SIMTOM_BNPL_END_DATE=end,
        )
        assert run.returncode == 0, run.tail()
        return run.output

    def state(self) -> dict[str, Any]:
        """The pipeline's Singer state as Meltano stored it."""
        run = self.meltano("state", "get", STATE_ID)
        assert run.returncode == 0, run.tail()
        # stdout and stderr share the pipe: the JSON may have log lines after it.
        state, _end = json.JSONDecoder().raw_decode(run.output[run.output.index("{") :])
        return state

    def state_ids(self) -> list[str]:
        run = self.meltano("state", "list", "--pattern", "*")
        assert run.returncode == 0, run.tail()
        return sorted(
            line.strip()
            for line in run.output.splitlines()
            if line.strip() and not line.lstrip().startswith("20") and ":" in line
        )

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple]:
        con = duckdb.connect(str(self.duckdb_path), read_only=True)
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()

    def per_day(self, sql: str) -> dict[str, int]:
        """{YYYY-MM-DD: n} from a query returning (day, n) rows."""
        return {str(day): int(n) for day, n in self.query(sql)}

    def raw_transactions_per_day(self) -> dict[str, int]:
        return self.per_day(
            "SELECT transaction_date, count(*) FROM raw.transactions GROUP BY 1 ORDER BY 1"
        )

    def emitted_per_day(self) -> dict[str, int]:
        """records_emitted per day from the tap's extraction_log (all runs together)."""
        return self.per_day(
            "SELECT extraction_date, sum(records_emitted) FROM raw.extraction_log "
            "GROUP BY 1 ORDER BY 1"
        )

    def marts_snapshot(self) -> dict[str, list[tuple]]:
        """Every table of the marts schema with all its rows, in a stable order."""
        tables = self.query(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'marts' ORDER BY table_name"
        )
        return {name: self.query(f"SELECT * FROM marts.{name} ORDER BY ALL") for (name,) in tables}

    def execute(self, sql: str, params: list[Any] | None = None) -> None:
        con = duckdb.connect(str(self.duckdb_path))
        try:
            con.execute(sql, params or [])
        finally:
            con.close()


def sent_per_day(server: SimtomServer) -> dict[str, int]:
    """Records the server streamed per day, from its own batch log (the independent count)."""
    sent: dict[str, int] = {}
    for _request, day, records in server.batch_log:
        if day != "live":
            sent[str(day)] = records
    return sent


def days_between(start: str, end: str) -> list[str]:
    """Every YYYY-MM-DD from start to end, inclusive."""
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


# What a project carries from one run to the next: the warehouse, the system database with
# the state, dbt's target folder (run results, manifest) and the gate's reports and context;
# plus what the server sent while the project was built. Logs and `.meltano/run/` stay.
_PROJECT_FILES = ("bnpl.duckdb", "bnpl.duckdb.wal", "meltano.db", "sent-per-day.json")
_PROJECT_FOLDERS = ("dbt-target", "reports")


def copy_project(source: Project, workdir: Path, api_url: str) -> Project:
    """A project in WORKDIR that continues from where SOURCE stopped, against API_URL."""
    workdir.mkdir(parents=True, exist_ok=True)
    for name in _PROJECT_FILES:
        if (source.workdir / name).exists():
            shutil.copy2(source.workdir / name, workdir / name)
    for name in _PROJECT_FOLDERS:
        if (source.workdir / name).is_dir():
            shutil.copytree(source.workdir / name, workdir / name)
    return Project(workdir=workdir, api_url=api_url)


def sent_while_built(project: Project) -> dict[str, int]:
    """sent_per_day of the server a shared project was built against (saved by built_once)."""
    return json.loads((project.workdir / "sent-per-day.json").read_text())


@contextlib.contextmanager
def held_by_one_worker(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[Path]:
    """A folder every xdist worker of this session sees, held under lock NAME by one worker
    at a time: what one worker made there, the others read instead of remaking. (The
    workers' base temps share a parent that belongs to this session only; without xdist,
    the session's own base temp.)"""
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "shared"
    root.mkdir(exist_ok=True)
    with (root / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield root


def made_once(
    tmp_path_factory: pytest.TempPathFactory, name: str, make: Callable[[Path], None]
) -> Path:
    """The folder NAME that MAKE fills (given it empty), made once per session.

    The first worker to ask makes it, under a lock; the others wait for it and find it done.
    A make that failed is retried by the next asker, so each test that needs it fails with
    the make's own error.
    """
    with held_by_one_worker(tmp_path_factory, name) as root:
        folder = root / name
        if not (folder / ".built").exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            make(folder)
            (folder / ".built").touch()
    return folder


def built_once(
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    build: Callable[[Project], None],
    source: Project | None = None,
) -> Project:
    """The project BUILD leaves (from a copy of SOURCE, or empty), built once per session
    (`made_once`) against a server of its own."""

    def make(folder: Path) -> None:
        with SimtomServer(host="127.0.0.1", port=0, pace_seconds=0.0) as server:
            if source is None:
                project = Project(workdir=folder, api_url=server.url)
            else:
                project = copy_project(source, folder, server.url)
            build(project)
            (folder / "sent-per-day.json").write_text(
                json.dumps({**_sent_before(source), **sent_per_day(server)})
            )

    folder = made_once(tmp_path_factory, name, make)
    return Project(workdir=folder, api_url="http://127.0.0.1:1/built-once")


def _sent_before(source: Project | None) -> dict[str, int]:
    return sent_while_built(source) if source is not None else {}


# The daily job's first runs, which many tests continue from: dev's start_date to this day.
PUBLISHED_END = "2024-11-28"
# The gate test's bad run: the source silently skips a day, so the gate fails.
SKIPPED_DAY = "2024-11-29"
BAD_RUN_END = "2024-11-30"
SKIP_A_DAY = {
    "transactions": {"__filter__": f"transaction_date != '{SKIPPED_DAY}'"},
    "extraction_log": {"__filter__": f"extraction_date != '{SKIPPED_DAY}'"},
}


@pytest.fixture(scope="session")
def published_daily(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """`meltano run daily` from dev's start_date to PUBLISHED_END in a fresh project: four
    days loaded, transformed, gated and published. Shared: never run anything in it, take a
    copy (`published` below)."""

    def run_daily(project: Project) -> None:
        run = project.run_job("daily", None, PUBLISHED_END)
        assert run.returncode == 0, run.tail()

    return built_once(tmp_path_factory, "published-daily", run_daily)


# dev's whole quick-start window (meltano.yml): the week the dbt tests transform.
WEEK_START, WEEK_END = "2024-11-25", "2024-12-01"


@pytest.fixture(scope="session")
def week_loaded(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The tap and the loader alone (`meltano run tap-simtom-bnpl target-duckdb-append`) over
    WEEK_START..WEEK_END in a fresh project: the week in raw, nothing transformed yet. The dbt
    tests each build it their own way. Shared: take a copy (`copy_project`)."""

    def load_week(project: Project) -> None:
        project.extract_load(WEEK_START, WEEK_END)

    return built_once(tmp_path_factory, "week-loaded", load_week)


# The backfill the ML job trains on and the daily job continues from: ten weeks, up to the
# day before dev's start_date (the daily job's first day without state). A label settles 42
# days after the purchase (4 installments) or 70 (6); the default split's validation starts
# on day 50 of 70, so the first week's 4-installment rows train (about 500 at the tests'
# volume, both outcomes among them). Under 62 days no row would be settled in time.
BACKFILL_START, BACKFILL_END = "2024-09-16", "2024-11-24"


@pytest.fixture(scope="session")
def backfilled(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """`meltano run backfill` for BACKFILL_START..BACKFILL_END in a fresh project, as
    `make backfill` runs it: loaded, transformed, gated and published. Shared: take a copy."""

    def run_backfill(project: Project) -> None:
        run = project.run_job("backfill", BACKFILL_START, BACKFILL_END)
        assert run.returncode == 0, run.tail()

    return built_once(tmp_path_factory, "backfilled", run_backfill)


@pytest.fixture(scope="session")
def gate_failed(tmp_path_factory: pytest.TempPathFactory, published_daily: Project) -> Project:
    """published_daily, then a daily run to BAD_RUN_END whose source skipped SKIPPED_DAY:
    the gate failed it. Shared: take a copy (`after_failed_gate` below)."""

    def run_bad_daily(project: Project) -> None:
        bad = project.run_job(
            "daily", None, BAD_RUN_END, TAP_SIMTOM_BNPL_STREAM_MAPS=json.dumps(SKIP_A_DAY)
        )
        assert bad.returncode != 0, bad.tail()

    return built_once(tmp_path_factory, "gate-failed", run_bad_daily, source=published_daily)


@pytest.fixture
def published(published_daily: Project, tmp_path: Path, simtom_server: SimtomServer) -> Project:
    """A copy of published_daily of this test's own, against this test's server."""
    return copy_project(published_daily, tmp_path, simtom_server.url)


@pytest.fixture
def week(week_loaded: Project, tmp_path: Path, simtom_server: SimtomServer) -> Project:
    """A copy of week_loaded of this test's own, against this test's server."""
    return copy_project(week_loaded, tmp_path, simtom_server.url)


@pytest.fixture
def after_backfill(backfilled: Project, tmp_path: Path, simtom_server: SimtomServer) -> Project:
    """A copy of backfilled of this test's own, against this test's server."""
    return copy_project(backfilled, tmp_path, simtom_server.url)


@pytest.fixture
def after_failed_gate(gate_failed: Project, tmp_path: Path, simtom_server: SimtomServer) -> Project:
    """A copy of gate_failed of this test's own, against this test's server."""
    return copy_project(gate_failed, tmp_path, simtom_server.url)


@pytest.fixture
def simtom_server() -> Iterator[SimtomServer]:
    """The local simtom-compatible server on a free loopback port, without day pacing."""
    with SimtomServer(host="127.0.0.1", port=0, pace_seconds=0.0) as server:
        yield server


@pytest.fixture
def project(tmp_path: Path, simtom_server: SimtomServer) -> Project:
    """The Meltano project with this test's own state, warehouse file and reports."""
    if not (ROOT / ".meltano" / "extractors" / "tap-simtom-bnpl" / "venv").is_dir():
        pytest.fail("the Meltano plugins are not installed: run `make install` first")
    return Project(workdir=tmp_path, api_url=simtom_server.url)


# CPU time: a job run is mostly Python start-up and dbt, so the suite is CPU-bound; the sum of
# every test's CPU time divided by the cores is the least wall time any schedule can reach.
_CPU_PROPERTY = "cpu_seconds"
_cpu_at_setup: dict[str, float] = {}
_cpu_by_test: dict[str, float] = {}
_COSTLIEST_SHOWN = 15


def _cpu_seconds() -> float:
    """CPU time of this process and of every process it has waited for (theirs included)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    _cpu_at_setup[item.nodeid] = _cpu_seconds()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """On failure, point at the meltano logs the test left behind. The test's CPU time,
    setup to teardown, rides on its teardown report (to the xdist controller too)."""
    if call.when == "call" and call.excinfo is not None:
        funcargs = item.funcargs if hasattr(item, "funcargs") else {}
        for project in funcargs.values():
            if not isinstance(project, Project):
                continue
            logs = sorted(project.workdir.glob("meltano-*.log"))
            if logs:
                item.add_report_section(
                    "call", "meltano logs", "\n".join(str(path) for path in logs)
                )
    outcome = yield
    if call.when == "teardown" and item.nodeid in _cpu_at_setup:
        spent = _cpu_seconds() - _cpu_at_setup.pop(item.nodeid)
        outcome.get_result().user_properties.append((_CPU_PROPERTY, spent))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "teardown":
        for name, value in report.user_properties:
            if name == _CPU_PROPERTY:
                _cpu_by_test[report.nodeid] = value


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _cpu_by_test:
        return
    total = sum(_cpu_by_test.values())
    cores = os.cpu_count() or 1
    terminalreporter.section("CPU time (each test with the processes it started)")
    slowest = sorted(_cpu_by_test.items(), key=lambda item: item[1], reverse=True)
    for nodeid, seconds in slowest[:_COSTLIEST_SHOWN]:
        terminalreporter.write_line(f"{seconds:7.1f}s cpu  {nodeid}")
    terminalreporter.write_line(
        f"{total:.0f} CPU-seconds in {len(_cpu_by_test)} tests: on {cores} cores no schedule "
        f"runs them in less than {total / cores:.0f} s"
    )
