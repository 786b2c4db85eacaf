"""Settings parsing, day selection syntax and the console entry point."""

from __future__ import annotations

from datetime import date

import pytest
from bnpl_quality.cli import build_parser, config_from_args, main
from bnpl_quality.config import ConfigError
from bnpl_quality.days import parse_days
from datagen import build_staging, load_days, week
from simtom_local.volume import expected


def test_parse_days():
    assert parse_days("new") is None and parse_days("") is None
    assert parse_days("all") == "all"
    assert parse_days("2024-12-30..2025-01-01, 2024-12-24") == (
        date(2024, 12, 24),
        date(2024, 12, 30),
        date(2024, 12, 31),
        date(2025, 1, 1),
    )
    with pytest.raises(ConfigError, match=r"^days: '2024-13-01' is not a date"):
        parse_days("2024-13-01")
    with pytest.raises(ConfigError, match="ends before it starts"):
        parse_days("2024-12-02..2024-12-01")


def test_environment_fills_unset_options(monkeypatch, tmp_path):
    monkeypatch.setenv("BNPL_QUALITY_WAREHOUSE", "bigquery")
    monkeypatch.setenv("BNPL_GCP_PROJECT", "acme-data")
    monkeypatch.setenv("BNPL_QUALITY_FAIL_ON_DRIFT", "true")
    monkeypatch.setenv("BNPL_QUALITY_DAYS", "2024-11-25..2024-11-26")
    monkeypatch.setenv("BNPL_QUALITY_MAX_QUARANTINE_SHARE", "0.25")
    config = config_from_args(build_parser().parse_args(["gate"]))
    assert config.max_quarantine_share == 0.25
    assert config.warehouse == "bigquery" and config.bigquery_project == "acme-data"
    assert config.tables.results == "bnpl_quality.gate_results"
    assert config.tables.transactions == "bnpl_raw.transactions"
    assert config.fail_on_drift and config.days == (date(2024, 11, 25), date(2024, 11, 26))
    # An option on the command line wins over the environment.
    monkeypatch.delenv("BNPL_QUALITY_MAX_QUARANTINE_SHARE")
    args = build_parser().parse_args(["gate", "--no-fail-on-drift", "--warehouse", "duckdb"])
    config = config_from_args(args)
    assert config.max_quarantine_share == 0.01
    assert not config.fail_on_drift and config.tables.results == "quality.gate_results"


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["gate", "--duckdb-path", "/nonexistent/bnpl.duckdb"], {}, "duckdb_path: "),
        (["gate", "--warehouse", "bigquery"], {}, "bigquery_project: required"),
        (["gate"], {"BNPL_QUALITY_FAIL_ON_DRIFT": "maybe"}, "fail_on_drift: 'maybe'"),
        (["gate", "--expected-volume", "lots"], {}, "expected_volume: 'lots'"),
        (["gate", "--max-quarantine-share", "2"], {}, "max_quarantine_share: 2.0 is not between"),
        (["gate", "--transactions-table", "transactions"], {}, "transactions_table: "),
        (["docs", "--report-dir", "/nonexistent/q"], {}, "report_dir: no Great Expectations"),
    ],
)
def test_bad_settings_exit_2_with_one_line(monkeypatch, capsys, argv, env, message):
    monkeypatch.delenv("BNPL_GCP_PROJECT", raising=False)
    monkeypatch.delenv("BNPL_DUCKDB_PATH", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    if "--duckdb-path" not in argv:
        monkeypatch.setenv("BNPL_DUCKDB_PATH", "/nonexistent/bnpl.duckdb")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("bnpl-quality: error: ") and message in err
    assert err.count("\n") == 1


def test_gate_command_exit_codes_and_summary(gx, duckdb_path, tmp_path, capsys, monkeypatch):
    saturday = date(2024, 11, 30)  # at x0.7 of its expected count: warns
    load_days(duckdb_path, week(), counts={saturday: int(expected(saturday, 60) * 0.7)})
    build_staging(duckdb_path)
    monkeypatch.setenv("BNPL_DUCKDB_PATH", str(duckdb_path))
    report_dir = tmp_path / "q"
    assert main(["gate", "--report-dir", str(report_dir)]) == 0
    out = capsys.readouterr().out
    assert "PASS WITH WARNINGS" in out and "within simtom's day-to-day noise" in out
    strict = ["--days", "all", "--fail-on-drift"]
    assert main(["gate", "--report-dir", str(report_dir), *strict]) == 1
    assert "FAIL" in capsys.readouterr().out
    wrong_volume = ["--days", "all", "--expected-volume", "5000"]
    assert main(["gate", "--report-dir", str(report_dir), *wrong_volume]) == 1
    assert "daily transactions near simtom's volume model" in capsys.readouterr().out
    assert main(["docs", "--report-dir", str(report_dir)]) == 0
    assert (report_dir / "data_docs" / "index.html").is_file()
