"""scripts/check_load.py on a DuckDB raw layer: which loads pass and which fail.

The raw tables are built here row by row so each case (a lost batch, a replayed day, a
duplicated load, a lost extraction_log load) is exact; the BigQuery side of the same check
runs after real loads in test_prod_job_bigquery.py.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import duckdb
import pytest

from conftest import ROOT

_spec = importlib.util.spec_from_file_location("check_load", ROOT / "scripts" / "check_load.py")
assert _spec is not None and _spec.loader is not None
check_load = importlib.util.module_from_spec(_spec)
sys.modules["check_load"] = check_load  # dataclasses look their module up there
_spec.loader.exec_module(check_load)


class RawLayer:
    """raw.transactions / raw.quarantine / raw.extraction_log in a DuckDB file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with duckdb.connect(str(path)) as con:
            con.execute("create schema raw")
            con.execute(
                "create table raw.extraction_log (extraction_key varchar, "
                "extraction_run_id varchar, extraction_date date, records_emitted bigint, "
                "records_quarantined bigint, finished_at timestamp)"
            )
            con.execute(
                "create table raw.transactions (transaction_key varchar, "
                "transaction_date date, extraction_run_id varchar)"
            )
            con.execute(
                "create table raw.quarantine (quarantine_key varchar, extraction_run_id varchar, "
                "extraction_date date)"
            )

    def extract(
        self,
        run: str,
        day: str,
        emitted: int,
        loaded: int | None = None,
        quarantined: int = 0,
        finished_at: str = "2024-12-02 02:00:00",
        log: bool = True,
    ) -> None:
        """One run's extraction of a day: its log row and `loaded` of its `emitted` rows."""
        with duckdb.connect(str(self.path)) as con:
            if log:
                con.execute(
                    "insert into raw.extraction_log values (?, ?, ?, ?, ?, ?)",
                    [f"{run}:{day}", run, day, emitted, quarantined, finished_at],
                )
            con.execute(
                "insert into raw.transactions select "
                "strftime(?::date, '%Y%m%d') || '-' || lpad(i::varchar, 6, '0'), ?::date, ? "
                "from range(?) t(i)",
                [day, day, run, emitted if loaded is None else loaded],
            )
            con.execute(
                "insert into raw.quarantine select ? || ':' || i, ?, ?::date from range(?) t(i)",
                [run, run, day, quarantined],
            )

    def upsert_replaces(self, run: str, day: str) -> None:
        """What target-duckdb's merge on the key does to an older run's rows of a day."""
        with duckdb.connect(str(self.path)) as con:
            con.execute(
                "delete from raw.transactions where transaction_date = ? and extraction_run_id = ?",
                [day, run],
            )


def run_check(raw: RawLayer, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = check_load.main(["--warehouse", "duckdb", "--duckdb-path", str(raw.path)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def raw(tmp_path: Path) -> RawLayer:
    return RawLayer(tmp_path / "bnpl.duckdb")


def test_complete_loads_pass(raw: RawLayer, capsys: pytest.CaptureFixture[str]) -> None:
    raw.extract("run-a", "2024-11-25", 52, quarantined=2)
    raw.extract("run-a", "2024-11-26", 53)
    code, out, err = run_check(raw, capsys)
    assert (code, err) == (0, "")
    assert "2 day(s) (2024-11-25..2024-11-26), 105 raw transactions match" in out


def test_a_lost_batch_fails_naming_the_day(
    raw: RawLayer, capsys: pytest.CaptureFixture[str]
) -> None:
    raw.extract("run-a", "2024-11-25", 52)
    raw.extract("run-a", "2024-11-26", 53, loaded=40)
    code, _, err = run_check(raw, capsys)
    assert code == 1
    assert (
        "2024-11-26: raw transactions holds 40 rows of run run-a, "
        "extraction_log says 53 were emitted" in err
    )
    assert "2024-11-25" not in err


def test_a_load_applied_twice_fails(raw: RawLayer, capsys: pytest.CaptureFixture[str]) -> None:
    raw.extract("run-a", "2024-11-25", 52, loaded=104)
    code, _, err = run_check(raw, capsys)
    assert code == 1 and "holds 104 rows of run run-a" in err


def test_lost_quarantine_rows_fail(raw: RawLayer, capsys: pytest.CaptureFixture[str]) -> None:
    raw.extract("run-a", "2024-11-25", 52, quarantined=3)
    with duckdb.connect(str(raw.path)) as con:
        con.execute("delete from raw.quarantine where quarantine_key = 'run-a:0'")
    code, _, err = run_check(raw, capsys)
    assert code == 1
    assert "2024-11-25: raw quarantine holds 2 rows of run run-a" in err
    assert "says 3 were quarantined" in err


def test_rows_without_their_extraction_log_row_fail(
    raw: RawLayer, capsys: pytest.CaptureFixture[str]
) -> None:
    raw.extract("run-a", "2024-11-25", 52)
    raw.extract("run-b", "2024-11-26", 53, log=False)
    code, _, err = run_check(raw, capsys)
    assert code == 1
    assert "2024-11-26: 53 raw transactions" in err and "no extraction_log row" in err


def test_a_replayed_day_is_checked_against_its_latest_extraction(
    raw: RawLayer, capsys: pytest.CaptureFixture[str]
) -> None:
    raw.extract("run-a", "2024-11-25", 52, finished_at="2024-12-01 02:00:00")
    raw.extract("run-a", "2024-11-26", 53, finished_at="2024-12-01 02:00:00")
    # Appending loader (BigQuery): the older run's rows of the replayed day stay.
    raw.extract("run-b", "2024-11-26", 53, finished_at="2024-12-02 02:00:00")
    code, _, err = run_check(raw, capsys)
    assert (code, err) == (0, "")
    # Merging loader (DuckDB): the replay replaced them.
    raw.upsert_replaces("run-a", "2024-11-26")
    code, _, err = run_check(raw, capsys)
    assert (code, err) == (0, "")
    # A replay whose load was lost is caught even though the older rows are complete.
    raw.extract("run-c", "2024-11-25", 52, loaded=0, finished_at="2024-12-03 02:00:00")
    code, _, err = run_check(raw, capsys)
    assert code == 1 and "2024-11-25: raw transactions holds 0 rows of run run-c" in err


def test_an_unloaded_warehouse_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nothing.duckdb"
    assert check_load.main(["--warehouse", "duckdb", "--duckdb-path", str(missing)]) == 2
    assert f"duckdb_path: {missing} does not exist" in capsys.readouterr().err
    duckdb.connect(str(missing)).close()
    assert check_load.main(["--warehouse", "duckdb", "--duckdb-path", str(missing)]) == 2
    assert "raw table extraction_log does not exist" in capsys.readouterr().err


def test_bigquery_needs_a_project(capsys: pytest.CaptureFixture[str]) -> None:
    assert check_load.main(["--warehouse", "bigquery", "--project", ""]) == 2
    assert "project: required for warehouse bigquery" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("project", "dataset", "location"),
    [
        ("bnpl-prod", "bnpl_raw", "US"),
        ("example.com:bnpl-prod", "Raw_2024", "eu"),
        ("a23456", "x" * 1024, "europe-west2"),
        ("bnpl-prod-12345678901234567890", "_", "northamerica-northeast1"),
    ],
)
def test_preflight_accepts_valid_bigquery_ids(project: str, dataset: str, location: str) -> None:
    check_load.validate_names(project, dataset, location)


@pytest.mark.parametrize(
    ("project", "dataset", "location", "setting"),
    [
        (None, "bnpl_raw", "US", "project: required"),
        ("bnpl", "bnpl_raw", "US", "project: expected a GCP project id"),
        ("1bnpl-prod", "bnpl_raw", "US", "project: expected a GCP project id"),
        ("bnpl-prod-", "bnpl_raw", "US", "project: expected a GCP project id"),
        ("bnpl-prod-123456789012345678901", "bnpl_raw", "US", "project: expected a GCP"),
        ("bnpl-prod", "bnpl.raw", "US", "dataset: expected a BigQuery dataset id"),
        ("bnpl-prod", "", "US", "dataset: expected a BigQuery dataset id"),
        ("bnpl-prod", "x" * 1025, "US", "dataset: expected a BigQuery dataset id"),
        ("bnpl-prod", "bnpl_raw", "", "location: expected a BigQuery location"),
        ("bnpl-prod", "bnpl_raw", "us central", "location: expected a BigQuery location"),
    ],
)
def test_preflight_names_the_first_bad_id(
    project: str | None, dataset: str, location: str, setting: str
) -> None:
    with pytest.raises(check_load.PreflightError, match=f"^{setting}"):
        check_load.validate_names(project, dataset, location)
