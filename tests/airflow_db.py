"""A migrated Airflow metadata database, made once per test session (once per xdist
worker) and copied into each test that runs DAGs: migrating a new SQLite database takes
seconds of CPU every time, and every test would make the same one.

It is made by `meltano invoke airflow:migrate` on the repository's project, the command
docs/orchestration.md gives, so that command stays tested.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import Project

_made: dict[str, Path] = {}


@pytest.fixture(scope="session", name="migrated_airflow_db")
def migrated_airflow_db_fixture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The migrated database file; copy it with copy_airflow_db, never write to it.

    A test module takes it with `from airflow_db import migrated_airflow_db_fixture`.
    """
    # Each test module that imports this fixture holds a definition of its own, each with
    # its own session cache: the database is kept here, once per process.
    if "database" in _made:
        return _made["database"]
    folder = tmp_path_factory.mktemp("airflow-db")
    database = folder / "airflow.db"
    # The project's own Meltano system database; no extractor runs, so no server is needed.
    project = Project(workdir=folder, api_url="http://127.0.0.1:9")
    migrate = project.meltano(
        "invoke",
        "airflow:migrate",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{database}",
        AIRFLOW__LOGGING__BASE_LOG_FOLDER=str(folder / "airflow-logs"),
    )
    assert migrate.returncode == 0, migrate.tail()
    assert database.is_file(), migrate.tail()
    _made["database"] = database
    return database


def copy_airflow_db(template: Path, to: Path) -> Path:
    """A test's own copy of the migrated database at TO; returns TO."""
    to.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, to)
    return to
