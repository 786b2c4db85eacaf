"""Fixtures for the production path on the local BigQuery emulator.

One emulator process per test session, on free loopback ports (per pytest-xdist worker;
installed into .cache/bq-emulator on first use); each test gets its own GCP project id on
it, so its datasets, Meltano state, Meltano system directory, dbt target folder and
quality reports are its own. (test_prod_job_bigquery.py starts emulators of its own on
copies of one first run's data.) The plugin venvs are the real ones under .meltano/
(`make install`); the emulator hook (emulator_hook/) is what points them at the emulator.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from simtom_local import SimtomServer

from conftest import ROOT, Project

from . import emulator
from .bq_rest import BigQueryRest

# Plugin venvs that talk to BigQuery in the prod job.
BIGQUERY_PLUGIN_VENVS = (
    ".meltano/loaders/target-bigquery/venv",
    ".meltano/utilities/dbt-bigquery/venv",
    ".meltano/utilities/quality/venv",
    ".meltano/utilities/load-check/venv",
    ".meltano/utilities/ml/venv",
)

_timings: dict[str, float] = {}


@pytest.fixture(scope="session")
def bq_installed() -> None:
    """The emulator installed, its hook in the BigQuery plugin venvs."""
    missing = [venv for venv in BIGQUERY_PLUGIN_VENVS if not (ROOT / venv).is_dir()]
    if missing:
        pytest.fail(f"plugins not installed ({', '.join(missing)}): run `make install` first")
    # xdist workers each ask for it: one installs, the other waits and finds it installed.
    emulator.CACHE.parent.mkdir(parents=True, exist_ok=True)
    with (emulator.CACHE.parent / "bq-emulator.install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _timings["emulator install (s)"] = emulator.install()
        for venv in BIGQUERY_PLUGIN_VENVS:
            emulator.install_hook(ROOT / venv)


@pytest.fixture(scope="session")
def bq_emulator(
    tmp_path_factory: pytest.TempPathFactory, bq_installed: None
) -> Iterator[emulator.Emulator]:
    """The session's emulator on free loopback ports (each xdist worker has its own)."""
    workdir = tmp_path_factory.mktemp("bq-emulator")
    running = emulator.start(workdir / "data", workdir / "emulator.log")
    _timings["emulator start-up (s)"] = running.startup_seconds
    try:
        yield running
    finally:
        running.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _timings:
        terminalreporter.section("BigQuery emulator")
        for name, seconds in _timings.items():
            terminalreporter.write_line(f"{name}: {seconds:.1f}")


@dataclass
class BigQueryProject(Project):
    """The Meltano project in its prod environment, its BigQuery being the emulator."""

    emulator_rest: str = ""
    emulator_grpc: str = ""
    gcp_project: str = ""

    @property
    def bq(self) -> BigQueryRest:
        return BigQueryRest(self.emulator_rest, self.gcp_project)


def new_gcp_project() -> str:
    """A project id of its own: the emulator keeps each project's datasets apart."""
    return f"bnpl-test-{os.getpid()}-{time.monotonic_ns() % 10**9}"


def bigquery_project(
    workdir: Path, api_url: str, running: emulator.Emulator, gcp_project: str
) -> BigQueryProject:
    """The project in prod, in WORKDIR, its BigQuery project GCP_PROJECT on RUNNING."""
    extra_env = {
        "MELTANO_ENVIRONMENT": "prod",
        "BNPL_GCP_PROJECT": gcp_project,
        "BNPL_BQ_LOCATION": "US",
        # Read by the emulator hook only; production never sets them.
        "BNPL_BQ_EMULATOR_REST": running.rest_url,
        "BNPL_BQ_EMULATOR_GRPC": running.grpc_address,
        # dbt-bigquery's own endpoint override, and the offline auth method: a dummy token.
        "BNPL_BQ_API_ENDPOINT": running.rest_url,
        "BNPL_BQ_AUTH_METHOD": "oauth-secrets",
        "BNPL_BQ_OAUTH_TOKEN": "emulator-token",
        "BNPL_QUALITY_WAREHOUSE": "bigquery",
    }
    return BigQueryProject(
        workdir=workdir,
        api_url=api_url,
        extra_env=extra_env,
        emulator_rest=running.rest_url,
        emulator_grpc=running.grpc_address,
        gcp_project=gcp_project,
    )


@pytest.fixture
def bq_project(
    tmp_path: Path, simtom_server: SimtomServer, bq_emulator: emulator.Emulator
) -> BigQueryProject:
    return bigquery_project(tmp_path, simtom_server.url, bq_emulator, new_gcp_project())
