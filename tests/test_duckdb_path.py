"""BNPL_DUCKDB_PATH: any file a user may choose works, or is refused before extracting.

DuckDB names a database after its file and renames the names it reserves (a file called
`main.duckdb` becomes the database `main_db`); dbt-duckdb assumed `main` and failed late,
after the load, with `Catalog "main" does not exist`. A file named like one of the
warehouse's schemas (`raw.duckdb`) makes `raw.transactions` ambiguous for the loader and the
gate, so the DuckDB jobs' first step (`load-check:preflight-duckdb`) refuses it in one line.
The check's own cases are the load-check plugin's (plugins/load_check/tests/).
"""

from __future__ import annotations

import duckdb
import pytest

from conftest import Project


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
    refusals = [line for line in run.output.splitlines() if "load-check: preflight:" in line]
    assert len(refusals) == 1 and "'raw'" in refusals[0], run.tail()
    assert "tap-simtom-bnpl" not in run.output.split("load-check: preflight:")[0]
    assert not path.exists() and project.state_ids() == []
