"""Fixtures of the reliability suite: a clean reference run (harness.clean_run), a
distinctive API key, and the results file every test writes its row to (rendered into
docs/reliability.md by tests/reliability/report.py).
"""

from __future__ import annotations

import os
import pickle
import platform
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT, held_by_one_worker

from .harness import END, START, VOLUME, CleanReference, clean_run, stop_all
from .results_file import write_results

RESULTS_PATH = Path(
    os.environ.get("BNPL_RELIABILITY_RESULTS", ROOT / "output" / "reliability" / "results.json")
)
_rows: list[dict[str, Any]] = []
_outcomes: dict[str, str] = {}
_durations: dict[str, float] = {}
_started = time.time()
_load_at_start = os.getloadavg()


def pytest_configure(config: pytest.Config) -> None:
    # Also to be listed in the root pyproject.toml; registering here keeps
    # --strict-markers happy when this folder is collected on its own.
    config.addinivalue_line(
        "markers", "reliability: fault-injection suite (faults, kills, bad input, locks)"
    )


@pytest.fixture(scope="session")
def api_key(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A value that cannot appear anywhere by chance: grep for it finds only leaks.

    One for the whole run (all xdist workers): the clean reference run carries it."""
    with held_by_one_worker(tmp_path_factory, "reliability") as shared:
        saved = shared / "api_key"
        if saved.is_file():
            return saved.read_text()
        key = f"simtom-secret-{secrets.token_hex(12)}"
        saved.write_text(key)
        return key


@pytest.fixture(scope="session")
def clean_reference(tmp_path_factory: pytest.TempPathFactory, api_key: str) -> CleanReference:
    """The clean run, made once per run: under xdist the first worker to need it makes it
    and the others read it (its project folder is only read or copied from)."""
    if not (ROOT / ".meltano" / "extractors" / "tap-simtom-bnpl" / "venv").is_dir():
        pytest.fail("the Meltano plugins are not installed: run `make install` first")
    with held_by_one_worker(tmp_path_factory, "reliability") as shared:
        saved = shared / "clean-reference.pickle"
        if saved.is_file():
            return pickle.loads(saved.read_bytes())
        reference = clean_run(tmp_path_factory.mktemp("clean-reference"), api_key)
        saved.write_bytes(pickle.dumps(reference))
        return reference


@pytest.fixture(autouse=True)
def _stop_leftover_jobs() -> Iterator[None]:
    yield
    stop_all()


@pytest.fixture
def record(request: pytest.FixtureRequest) -> Callable[..., None]:
    """record(fault=..., runs=..., rows_lost=..., rows_duplicated=..., **details)."""

    def add(**row: Any) -> None:
        row.setdefault("window", f"{START}..{END}")
        row.setdefault("base_daily_volume", VOLUME)
        _rows.append({"test": request.node.nodeid, **row})

    return add


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "reliability" not in report.nodeid:
        return
    _durations[report.nodeid] = _durations.get(report.nodeid, 0.0) + report.duration
    if report.when == "call" or report.outcome != "passed":
        _outcomes[report.nodeid] = report.outcome


def _git_commit() -> str | None:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    return done.stdout.strip() or None


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not _rows:
        return
    for row in _rows:
        row["outcome"] = _outcomes.get(row["test"], "unknown")
        row["test_seconds"] = round(_durations.get(row["test"], 0.0), 1)
    document = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _git_commit(),
        "suite_seconds": round(time.time() - _started, 1),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_at_start": [round(x, 2) for x in _load_at_start],
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        "tests": {nodeid: outcome for nodeid, outcome in sorted(_outcomes.items())},
        "rows": _rows,
    }
    write_results(RESULTS_PATH, document)
