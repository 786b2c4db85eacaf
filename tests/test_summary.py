"""scripts/summary.py: what `make run` prints after the job, read from the DuckDB file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb

from conftest import ROOT

SUMMARY = ROOT / "scripts" / "summary.py"


def summary(*args: str) -> str:
    completed = subprocess.run(
        [sys.executable, str(SUMMARY), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return completed.stdout


def make_warehouse(path: Path) -> None:
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA raw; CREATE SCHEMA marts; CREATE SCHEMA quality")
    con.execute(
        "CREATE TABLE raw.transactions AS SELECT * FROM (VALUES "
        "('20241125-000000', '2024-11-25'), ('20241125-000001', '2024-11-25'), "
        "('20241126-000000', '2024-11-26')) AS t(transaction_key, transaction_date)"
    )
    con.execute("CREATE TABLE raw.customers AS SELECT 'p1' AS customer_profile_key")
    con.execute("CREATE TABLE raw.extraction_log AS SELECT * FROM range(2) AS t(n)")
    con.execute("CREATE TABLE raw.quarantine (quarantine_key VARCHAR)")
    con.execute("CREATE TABLE marts.mart_bnpl_transactions AS SELECT * FROM range(3) AS t(n)")
    con.execute(
        "CREATE TABLE quality.gate_runs AS SELECT * FROM (VALUES "
        "('run-old', TIMESTAMP '2024-11-26 02:00:00', 'failed', DATE '2024-11-25', "
        "DATE '2024-11-25', 2, 0), "
        "('run-new', TIMESTAMP '2024-11-27 02:00:00', 'passed', DATE '2024-11-25', "
        "DATE '2024-11-26', 0, 1)) AS t(run_id, run_time, verdict, first_checked_day, "
        "last_checked_day, critical_failures, warnings)"
    )
    con.close()


def test_summary_counts_rows_and_reports_the_latest_gate_run(tmp_path: Path) -> None:
    database = tmp_path / "bnpl.duckdb"
    make_warehouse(database)
    reports = tmp_path / "output" / "quality"
    (reports / "data_docs").mkdir(parents=True)
    (reports / "report.html").write_text("<html></html>")
    (reports / "data_docs" / "index.html").write_text("<html></html>")

    text = summary("--duckdb", str(database), "--output", str(tmp_path / "output"))

    lines = [line.split() for line in text.splitlines()]
    assert ["raw.transactions", "3", "rows"] in lines
    assert ["raw.customers", "1", "rows"] in lines
    assert ["raw.extraction_log", "2", "rows"] in lines
    assert ["raw.quarantine", "0", "rows"] in lines
    assert ["marts.mart_bnpl_transactions", "3", "rows"] in lines
    assert "days loaded       2024-11-25 .. 2024-11-26 (2 days)" in text
    assert "quality gate      PASSED (run run-new, days 2024-11-25..2024-11-26" in text
    assert str(reports / "report.html") in text
    assert str(reports / "data_docs" / "index.html") in text


def test_summary_says_so_when_nothing_was_loaded(tmp_path: Path) -> None:
    text = summary("--duckdb", str(tmp_path / "missing.duckdb"), "--job-exit-code", "1")
    assert "job exit code     1" in text
    assert "does not exist (no data loaded yet)" in text
