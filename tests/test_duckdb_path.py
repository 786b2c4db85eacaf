"""BNPL_DUCKDB_PATH: any file a user may choose works, or is refused before extracting.

DuckDB names a database after its file and renames the names it reserves (a file called
`main.duckdb` becomes the database `main_db`); dbt-duckdb assumed `main` and failed late,
after the load, with `Catalog "main" does not exist`. A file named like one of the
warehouse's schemas (`raw.duckdb`) makes `raw.transactions` ambiguous for the loader and the
gate, so the DuckDB jobs' first step (`load-check:preflight-duckdb`) refuses it in one line.
"""

from __future__ import annotations

import importlib.util
import sys

import duckdb
import pytest

from conftest import ROOT, Project

_spec = importlib.util.spec_from_file_location(
    "check_load", ROOT / "plugins" / "load_check" / "bnpl_load_check" / "cli.py"
)
assert _spec is not None and _spec.loader is not None
check_load = importlib.util.module_from_spec(_spec)
sys.modules["check_load"] = check_load
_spec.loader.exec_module(check_load)


@pytest.mark.parametrize("name", ["raw.duckdb", "Marts.db", "quality", "ops.duckdb"])
def test_preflight_refuses_a_file_named_like_a_schema(tmp_path, name: str) -> None:
    with pytest.raises(check_load.PreflightError, match="choose another file name"):
        check_load.check_duckdb_path(tmp_path / name)


def test_preflight_refuses_a_directory_and_a_file_duckdb_cannot_open(tmp_path) -> None:
    with pytest.raises(check_load.PreflightError, match="is a directory"):
        check_load.check_duckdb_path(tmp_path)
    not_duckdb = tmp_path / "bnpl.duckdb"
    not_duckdb.write_text("not a database\n" * 100)
    with pytest.raises(check_load.PreflightError, match="cannot be opened by duckdb") as refused:
        check_load.check_duckdb_path(not_duckdb)
    assert "\n" not in str(refused.value)


def test_preflight_accepts_a_new_file_and_an_existing_database(tmp_path) -> None:
    fresh = tmp_path / "new" / "folder" / "main.duckdb"
    assert "will be created" in check_load.check_duckdb_path(fresh)
    existing = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(existing)).close()
    assert "opens with duckdb" in check_load.check_duckdb_path(existing)


@pytest.mark.job
def test_daily_job_runs_on_a_file_named_main(project: Project) -> None:
    path = project.workdir / "main.duckdb"
    run = project.run_job("daily", "2024-11-25", "2024-11-25", BNPL_DUCKDB_PATH=str(path))
    assert run.returncode == 0, run.tail()
    with duckdb.connect(str(path), read_only=True) as con:
        (marts,) = con.execute("select count(*) from marts.mart_bnpl_transactions").fetchone()
        (raw,) = con.execute("select count(*) from raw.transactions").fetchone()
    assert marts == raw > 0


@pytest.mark.job
def test_daily_job_refuses_a_file_named_raw_before_extracting(project: Project) -> None:
    path = project.workdir / "raw.duckdb"
    run = project.run_job("daily", "2024-11-25", "2024-11-25", BNPL_DUCKDB_PATH=str(path))
    assert run.returncode != 0
    refusals = [line for line in run.output.splitlines() if "check_load: preflight:" in line]
    assert len(refusals) == 1 and "'raw'" in refusals[0], run.tail()
    assert "tap-simtom-bnpl" not in run.output.split("check_load: preflight:")[0]
    assert not path.exists() and project.state_ids() == []
