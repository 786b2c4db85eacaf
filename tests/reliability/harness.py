"""What the reliability tests share: isolated projects, jobs in the background, kills,
warehouse snapshots and the results every test records for docs/reliability.md.

Every project here gets a Meltano system directory of its own (MELTANO_SYS_DIR_ROOT):
the plugin venvs are the installed ones (symlinked), but `.meltano/run/`, where Meltano
writes each run's catalog and config files, is private. Runs of other tests or of other
people in the same checkout then cannot delete files under a running job.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from conftest import ROOT, STATE_ID, Project, meltano_executable

JOB = "daily"
# Three weeks, i.e. three of the job's aligned 7-day request windows: enough days for ten
# kills inside extract-load with days still left to extract after each.
START, END = "2024-11-25", "2024-12-15"
WINDOW_DAYS = 7  # the tap's default window_days, which dev keeps
WINDOW_ANCHOR = date(1970, 1, 5)  # the tap aligns windows on this Monday
VOLUME = 60
JOB_LOCK = ROOT / "orchestrate" / "job_lock.py"
MODEL_DIRS = ("staging", "intermediate", "marts")
RUN_SCOPED_KEYS = ("extraction_key", "quarantine_key")  # `<run_id>:...`: new in every run
# What the tests call the job's steps; a step not named here is called by its command.
STEP_PHASES = {
    "load-check:preflight-duckdb": "preflight",
    "dbt-duckdb:build-staging": "dbt build-staging",
    "quality:gate": "quality gate",
    "dbt-duckdb:build-marts": "dbt build-marts",
}
BLOCK_DONE = "Block run completed"


def job_phases(job: str = JOB) -> tuple[str, ...]:
    """The job's blocks in order, as phases, then "finished". Meltano logs "Block run
    completed" after each block; the extract-load block (a tap and a target) is one."""
    document = yaml.safe_load((ROOT / "meltano.yml").read_text())
    (tasks,) = [entry["tasks"] for entry in document["jobs"] if entry["name"] == job]
    phases: list[str] = []
    for word in " ".join(tasks).split():
        if ":" in word:
            phases.append(STEP_PHASES.get(word, word))
        elif "extract-load" not in phases:
            phases.append("extract-load")
    return (*phases, "finished")


PHASES = job_phases()


def request_windows(start: str = START, end: str = END) -> list[tuple[str, str]]:
    """The job's aligned request windows over start..end, clipped to them, in order."""
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    offset = (first - WINDOW_ANCHOR).days % WINDOW_DAYS
    windows, begin = [], first
    window_end = first + timedelta(days=WINDOW_DAYS - 1 - offset)
    while begin <= last:
        windows.append((begin.isoformat(), min(window_end, last).isoformat()))
        begin, window_end = window_end + timedelta(days=1), window_end + timedelta(days=WINDOW_DAYS)
    return windows


def phase_of(log_text: str) -> str:
    """The phase a job is in (or was in when it died), from its log so far."""
    done = log_text.count(BLOCK_DONE)
    return PHASES[min(done, len(PHASES) - 1)]


# A service-account key that exists only here: it must never show up in any output.
FAKE_BIGQUERY_KEY = {
    "type": "service_account",
    "project_id": "bnpl-reliability",
    "private_key_id": "reliability-key-id-5d1e0c7a",
    "private_key": (
        "-----BEGIN PRIVATE KEY-----\nRELIABILITYxFAKExKEYx9f3b2c\n-----END PRIVATE KEY-----\n"
    ),
    "client_email": "reliability@bnpl-reliability.iam.gserviceaccount.com",
}
SECRETS_OF_BIGQUERY = ("RELIABILITYxFAKExKEYx9f3b2c", "reliability-key-id-5d1e0c7a")


def dev_batch_config(batch_root: Path) -> dict[str, Any] | None:
    """The dev environment's tap batch_config (meltano.yml) with its files under
    batch_root; None when dev runs the tap in RECORD mode."""
    document = yaml.safe_load((ROOT / "meltano.yml").read_text())
    for environment in document.get("environments") or []:
        if environment.get("name") != "dev":
            continue
        for plugin in environment.get("config", {}).get("plugins", {}).get("extractors", []):
            config = plugin.get("config") or {}
            if plugin.get("name") == "tap-simtom-bnpl" and config.get("batch_config"):
                batch = json.loads(json.dumps(config["batch_config"]))
                batch.setdefault("storage", {})["root"] = batch_root.as_uri()
                return batch
    return None


def batch_files(project: Project) -> list[Path]:
    """BATCH files under the project's own batch root (what no loader has committed)."""
    root = project.workdir / "batches"
    if not root.is_dir():
        return []
    # The tap's own lock file (it guards the folder against two taps) is not a batch.
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix != ".lock")


def isolated_project(workdir: Path, api_url: str, api_key: str, **env: str) -> Project:
    """The repository's project with its own state, warehouse, `.meltano/run/` and, in
    BATCH mode, its own folder of batch files."""
    extra = {
        "TAP_SIMTOM_BNPL_API_KEY": api_key,
        # Set for every run although dev loads DuckDB: a leak needs no BigQuery to happen.
        "TARGET_BIGQUERY_CREDENTIALS_JSON": json.dumps(FAKE_BIGQUERY_KEY),
        "TAP_SIMTOM_BNPL_BASE_DAILY_VOLUME": str(VOLUME),
        "TAP_SIMTOM_BNPL_START_DATE": START,
        "TAP_SIMTOM_BNPL_END_DATE": END,
    }
    if batch := dev_batch_config(workdir / "batches"):
        (workdir / "batches").mkdir(exist_ok=True)
        extra["TAP_SIMTOM_BNPL_BATCH_CONFIG"] = json.dumps(batch)
    extra.update(env)
    return Project(workdir=workdir, api_url=api_url, extra_env=extra)


def job_command(job: str = JOB, locked: bool = True, wait: float | None = None) -> list[str]:
    """`meltano run JOB`, behind orchestrate/job_lock.py unless locked is False."""
    meltano = [str(meltano_executable()), "run", job]
    if not locked:
        return meltano
    lock = [sys.executable, str(JOB_LOCK)]
    if wait is not None:
        lock += ["--wait", f"{wait:g}"]
    return [*lock, "--", *meltano]


@dataclass
class Running:
    """A job started in the background, in a session of its own."""

    proc: subprocess.Popen
    log_path: Path
    started: float = field(default_factory=time.monotonic)

    @property
    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def phase(self) -> str:
        """Where the job is now, from its log: see phase_of()."""
        return phase_of(self.output)

    def wait_for_phase(self, phase: str, timeout: float) -> bool:
        """Wait until the job reaches `phase` (or a later one); False if it ended first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if PHASES.index(self.phase()) >= PHASES.index(phase):
                return True
            if self.proc.poll() is not None:
                return False
            time.sleep(0.05)
        raise TimeoutError(f"job did not reach {phase} within {timeout} s")

    def wait_for_output(self, text: str, timeout: float) -> bool:
        """Wait until the log holds `text`; False if the job ended first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output:
                return True
            if self.proc.poll() is not None:
                return False
            time.sleep(0.05)
        raise TimeoutError(f"job did not log {text!r} within {timeout} s")

    def wait(self, timeout: float = 900) -> int:
        return self.proc.wait(timeout=timeout)

    def meltano_pid(self) -> int | None:
        """The `meltano run` process: the job itself, or the lock wrapper's child."""
        if _is_meltano(self.proc.pid):
            return self.proc.pid
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for pid in _children(self.proc.pid):
                if _is_meltano(pid):
                    return pid
            if self.proc.poll() is not None:
                return None
            time.sleep(0.02)
        return None


STARTED: list[Running] = []


def stop_all() -> None:
    """Stop every job a test started and left running (each leads its own session)."""
    for running in STARTED:
        if running.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(running.proc.pid, signal.SIGTERM)
            try:
                running.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(running.proc.pid, signal.SIGKILL)
                running.proc.wait()
    STARTED.clear()


def start_job(project: Project, name: str, command: list[str], **env: str) -> Running:
    """Start COMMAND in the project root with the project's environment."""
    project.runs += 1
    log_path = project.workdir / f"meltano-{project.runs:02d}-{name}.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env=project.env(**env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    STARTED.append(Running(proc, log_path))
    return STARTED[-1]


def run_job(project: Project, name: str, command: list[str], **env: str) -> Running:
    running = start_job(project, name, command, **env)
    running.wait()
    return running


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _is_meltano(pid: int) -> bool:
    words = _cmdline(pid).split()
    return any(Path(word).name == "meltano" for word in words[:2]) and "run" in words


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def kill_9(running: Running, mode: str) -> dict[str, Any]:
    """`kill -9` the job's `meltano run` process group: meltano and every plugin it
    started (tap, loader, dbt, the gate), as the OOM killer or a pod eviction would.

    mode "group": that group alone; the lock wrapper lives on and must clean up.
    mode "everything": the wrapper too, as when the machine or container dies."""
    pid = running.meltano_pid()
    if pid is None:
        return {"killed": False, "phase": running.phase()}
    phase = running.phase()
    at = round(running.elapsed(), 2)
    os.killpg(pid, signal.SIGKILL)
    if mode == "everything" and running.proc.pid != pid:
        os.killpg(running.proc.pid, signal.SIGKILL)
    returncode = running.wait(timeout=120)
    deadline = time.monotonic() + 30
    while group_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return {
        "killed": True,
        "mode": mode,
        "phase": phase,
        "seconds_after_start": at,
        "returncode": returncode,
        "leftovers_alive": group_alive(pid),
    }


# --- the warehouse ---------------------------------------------------------------------


def model_keys() -> dict[str, tuple[str, str]]:
    """{model: (schema, primary key column)} from the dbt .yml files: the column with a
    `unique` test. Read from the project so a new model is covered without editing here."""
    keys: dict[str, tuple[str, str]] = {}
    for folder in MODEL_DIRS:
        for path in sorted((ROOT / "transform" / "models" / folder).glob("*.yml")):
            document = yaml.safe_load(path.read_text()) or {}
            for model in document.get("models") or []:
                for column in model.get("columns") or []:
                    tests = column.get("data_tests") or column.get("tests") or []
                    names = {t if isinstance(t, str) else next(iter(t)) for t in tests}
                    if "unique" in names:
                        keys[model["name"]] = (folder, column["name"])
                        break
    return keys


def tables(project: Project) -> set[tuple[str, str]]:
    if not project.duckdb_path.exists():
        return set()
    return {
        (schema, name)
        for schema, name in project.query(
            "SELECT table_schema, table_name FROM information_schema.tables"
        )
    }


def snapshot(project: Project) -> dict[str, list[str]]:
    """Every staging/intermediate/mart model's keys, sorted (a model not built is absent).

    Models keyed per extraction run (the extraction log, the quarantine) are left out: each
    run has new keys there by design; duplicates() still checks them."""
    present = tables(project)
    keys = {}
    for model, (schema, column) in model_keys().items():
        if column in RUN_SCOPED_KEYS:
            continue
        if (schema, model) in present:
            rows = project.query(f'SELECT "{column}"::VARCHAR FROM {schema}.{model}')
            keys[model] = sorted(row[0] for row in rows)
    return keys


def duplicates(project: Project) -> dict[str, int]:
    """Rows beyond the first per key, per model (0 everywhere when nothing doubled)."""
    present = tables(project)
    doubled = {}
    for model, (schema, column) in model_keys().items():
        if (schema, model) in present:
            ((extra,),) = project.query(
                f'SELECT count(*) - count(DISTINCT "{column}") FROM {schema}.{model}'
            )
            doubled[model] = int(extra)
    return doubled


def raw_replays(project: Project) -> dict[str, int]:
    """What the raw layer holds twice (allowed there): transaction rows beyond one per key,
    and days extracted more than once (one extraction_log row per day and run)."""
    present = tables(project)
    replays = {"raw_replayed_rows": 0, "days_reextracted": 0}
    if ("raw", "transactions") in present:
        ((extra,),) = project.query(
            "SELECT count(*) - count(DISTINCT transaction_key) FROM raw.transactions"
        )
        replays["raw_replayed_rows"] = int(extra)
    if ("raw", "extraction_log") in present:
        ((extra,),) = project.query(
            "SELECT count(*) - count(DISTINCT extraction_date) FROM raw.extraction_log"
        )
        replays["days_reextracted"] = int(extra)
    return replays


def per_day(project: Project, model: str = "mart_bnpl_transactions") -> dict[str, int]:
    return project.per_day(
        f"SELECT transaction_date, count(*) FROM marts.{model} GROUP BY 1 ORDER BY 1"
    )


def compare(expected: dict[str, list[str]], actual: dict[str, list[str]]) -> dict[str, Any]:
    """Keys lost and keys extra per model, against a reference snapshot."""
    lost, extra = {}, {}
    for model, keys in expected.items():
        have = set(actual.get(model, []))
        lost[model] = sorted(set(keys) - have)
        extra[model] = sorted(have - set(keys))
    return {
        "missing_models": sorted(set(expected) - set(actual)),
        "lost": {m: k for m, k in lost.items() if k},
        "extra": {m: k for m, k in extra.items() if k},
    }


def files_containing(folder: Path, secrets: list[str]) -> list[str]:
    """ "path: secret" for every file under folder holding one of the secrets, byte for byte."""
    found = []
    needles = [s.encode() for s in secrets]
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            found += [f"{path}: {n.decode()}" for n in needles if n in data]
    return found


def file_digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def stored_state(project: Project) -> list[tuple[str, str | None, str | None]]:
    """The Meltano state table as stored: (state_id, partial_state, completed_state)."""
    db = project.workdir / "meltano.db"
    if not db.exists():
        return []
    with sqlite3.connect(db) as con:
        return con.execute(
            "SELECT state_id, partial_state, completed_state FROM state ORDER BY state_id"
        ).fetchall()


def bookmarks(project: Project) -> dict[str, str]:
    """The pipeline's bookmarks as Meltano would resume from them (partial over completed).

    Raises ValueError when the stored state is not valid JSON (a corrupted state).
    """
    merged: dict[str, str] = {}
    for state_id, partial, completed in stored_state(project):
        if state_id != STATE_ID:
            continue
        for blob in (completed, partial):
            singer = json.loads(blob or "{}").get("singer_state", {})
            for stream, mark in singer.get("bookmarks", {}).items():
                merged[stream] = mark["replication_key_value"]
    return merged


def phases(log_text: str) -> dict[str, tuple[float, float]]:
    """{phase: (start, duration)} in seconds from the first line of a finished job's log."""
    stamps = []
    first = None
    for line in log_text.splitlines():
        if len(line) < 27 or line[4] != "-" or line[10] != "T":
            continue
        stamp = datetime.fromisoformat(line[:26]).timestamp()
        first = stamp if first is None else first
        if BLOCK_DONE in line:
            stamps.append(stamp - first)
    spans = {}
    begin = 0.0
    for phase, end in zip(PHASES, stamps, strict=False):
        spans[phase] = (round(begin, 2), round(end - begin, 2))
        begin = end
    return spans


# --- the clean reference, and comparing a run with it ---------------------------------


@dataclass
class CleanReference:
    """The job run once over the window with no fault: what every other run must equal."""

    project: Project
    snapshot: dict[str, list[str]]
    per_day: dict[str, int]
    phases: dict[str, tuple[float, float]]
    log: str


def clean_run(workdir: Path, api_key: str) -> CleanReference:
    """The daily job over START..END against a fault-free, unpaced local server."""
    from simtom_local import SimtomServer

    with SimtomServer(host="127.0.0.1", port=0, pace_seconds=0.0) as server:
        project = isolated_project(workdir, server.url, api_key)
        run = run_job(project, "run-clean", job_command())
        if run.proc.returncode != 0:
            raise AssertionError(f"the clean run failed:\n{run.output[-4000:]}")
    days = per_day(project)
    expected_days = _days(START, END)
    if sorted(days) != expected_days or not all(days.values()):
        raise AssertionError(f"the clean run's marts miss days: {days}")
    return CleanReference(project, snapshot(project), days, phases(run.output), run.output)


def _days(start: str, end: str) -> list[str]:
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


@dataclass
class Comparison:
    """A project's models against the clean run: keys lost or extra, keys doubled."""

    diff: dict[str, Any]
    doubled: dict[str, int]
    per_day: dict[str, int]
    expected_per_day: dict[str, int]
    replays: dict[str, int]

    @property
    def rows_lost(self) -> int:
        return sum(len(keys) for keys in self.diff["lost"].values())

    @property
    def rows_duplicated(self) -> int:
        return sum(self.doubled.values())

    def fields(self) -> dict[str, int]:
        """What every test records for docs/reliability.md."""
        return {
            "rows_lost": self.rows_lost,
            "rows_duplicated": self.rows_duplicated,
            **self.replays,
        }

    def assert_equal(self) -> None:
        """Every model holds the clean run's keys, each once, with its count per day."""
        assert self.diff == {"missing_models": [], "lost": {}, "extra": {}}, self.diff
        assert self.per_day == self.expected_per_day, (self.per_day, self.expected_per_day)
        assert self.doubled and not any(self.doubled.values()), self.doubled


def compare_with_clean(
    project: Project, reference: CleanReference, skip: tuple[str, ...] = ()
) -> Comparison:
    """Compare every model (but those whose name contains a word of `skip`) with the
    clean run's, and count duplicates and raw replays."""
    expected = {
        model: keys
        for model, keys in reference.snapshot.items()
        if not any(word in model for word in skip)
    }
    return Comparison(
        diff=compare(expected, snapshot(project)),
        doubled=duplicates(project),
        per_day=per_day(project),
        expected_per_day=reference.per_day,
        replays=raw_replays(project),
    )
