"""`bnpl-load-check`, the console script the Meltano utility runs, as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from bnpl_load_check.cli import main

SCRIPT = Path(sys.executable).parent / "bnpl-load-check"


def load_check(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    # Only what the test names: the check reads its settings from the environment.
    base = {k: v for k, v in os.environ.items() if not k.startswith(("BNPL_", "TARGET_"))}
    return subprocess.run(
        [str(SCRIPT), *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_without_preflight_it_says_where_the_load_counts_went(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The per-day counts are dbt's int_bnpl_daily_reconciliation, which the gate reads;
    # the step that counted after the load is gone.
    assert main(["--warehouse", "bigquery"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--preflight: required" in err
    assert "int_bnpl_daily_reconciliation" in err


def test_duckdb_preflight_refuses_in_one_line_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "raw.duckdb"
    run = load_check("--warehouse", "duckdb", "--preflight", BNPL_DUCKDB_PATH=str(path))
    assert run.returncode == 1, run.stderr
    assert run.stdout == ""
    assert run.stderr.startswith("load-check: preflight: duckdb_path: ")
    assert run.stderr.count("\n") == 1 and "'raw'" in run.stderr
    assert list(tmp_path.iterdir()) == []


def test_duckdb_preflight_defaults_to_the_project_file(tmp_path: Path) -> None:
    existing = tmp_path / "output" / "bnpl.duckdb"
    existing.parent.mkdir()
    duckdb.connect(str(existing)).close()
    run = load_check("--preflight", MELTANO_PROJECT_ROOT=str(tmp_path))
    assert run.returncode == 0, run.stderr
    assert (
        run.stdout
        == f"load-check: preflight OK: {existing} opens with duckdb {duckdb.__version__}\n"
    )


def test_bigquery_preflight_names_the_bad_setting_before_calling_bigquery() -> None:
    run = load_check(
        "--warehouse",
        "bigquery",
        "--preflight",
        BNPL_GCP_PROJECT="bnpl-prod",
        TARGET_BIGQUERY_DATASET="bnpl-raw",
    )
    assert run.returncode == 1
    assert run.stderr == (
        "load-check: preflight: dataset: expected a BigQuery dataset id (letters, digits and "
        "underscores only, at most 1024), got 'bnpl-raw'\n"
    )
