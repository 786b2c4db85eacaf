"""The gate end to end on real DuckDB files with real Great Expectations."""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta

import duckdb
import pytest
from bnpl_quality.results import FAIL, NOTHING_TO_CHECK, PASS, WARN
from datagen import build_staging, day_count, execute, load_days, week
from simtom_local.volume import expected


def results(path, run_id):
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute(
            "SELECT suite, description, success, severity, observed_value "
            "FROM quality.gate_results WHERE run_id = ?",
            [run_id],
        ).fetchall()
        run = con.execute(
            "SELECT verdict, success, checked_days, day_count FROM quality.gate_runs "
            "WHERE run_id = ?",
            [run_id],
        ).fetchone()
    finally:
        con.close()
    return rows, run


def failed(outcome):
    return {o.description.split(" (")[0] for o in outcome.outcomes if not o.success}


@pytest.fixture(scope="module")
def clean_week_file(tmp_path_factory):
    """A week loaded and staged, made once: loading it row by row takes seconds."""
    path = tmp_path_factory.mktemp("clean-week") / "bnpl.duckdb"
    load_days(path, week(), quarantined_per_day=1)
    build_staging(path)
    return path


@pytest.fixture
def clean_week(clean_week_file, duckdb_path):
    """The test's own copy of the clean week."""
    shutil.copyfile(clean_week_file, duckdb_path)
    return duckdb_path


def test_clean_week_passes_and_records_every_result(gate, clean_week, config):
    outcome = gate(data_docs=True)
    assert outcome.verdict == PASS, [o.short() for o in outcome.outcomes if not o.success]
    assert outcome.exit_code == 0
    assert outcome.checked_label == "2024-11-25..2024-12-01"
    suites = {o.suite for o in outcome.outcomes}
    assert suites == {"bnpl_business_rules", "bnpl_statistical_patterns"}
    rows, run = results(clean_week, outcome.run_id)
    assert len(rows) == len(outcome.outcomes) > 20
    assert all(success for _, _, success, _, _ in rows)
    assert run == ("PASS", True, "2024-11-25..2024-12-01", 7)
    report = config.report_path.read_text()
    assert "<svg" in report and "PASS" in report and "holiday" in report  # Thanksgiving
    assert (config.data_docs_dir / "index.html").is_file()
    assert sum(d["quarantined"] for d in outcome.daily) == 7


def test_only_new_days_are_checked_and_a_skipped_day_is_missing(gate, clean_week):
    assert gate().verdict == PASS
    assert gate().verdict == NOTHING_TO_CHECK
    load_days(clean_week, [date(2024, 12, 2)])
    build_staging(clean_week)
    outcome = gate()
    assert outcome.days == (date(2024, 12, 2),)
    assert outcome.verdict == PASS
    # 2024-12-03 never arrives: the next run reaches back to it and finds it missing.
    load_days(clean_week, [date(2024, 12, 4)])
    build_staging(clean_week)
    outcome = gate()
    assert outcome.checked_label == "2024-12-03..2024-12-04"
    assert outcome.verdict == FAIL
    assert failed(outcome) == {"no missing day in the checked range"}


def test_negative_amount_fails(gate, clean_week):
    execute(
        clean_week,
        "UPDATE raw.transactions SET amount = -12.0, product_price = -12.0, "
        "first_payment_amount = -3.0 WHERE transaction_key = '20241127-000003'",
    )
    build_staging(clean_week)
    outcome = gate()
    assert outcome.verdict == FAIL and outcome.exit_code == 1
    assert failed(outcome) == {"amount is positive"}
    (bad,) = [o for o in outcome.outcomes if not o.success]
    assert bad.severity == "critical" and bad.unexpected_count == 1
    assert bad.observed["partial_unexpected_list"] == [-12.0]
    rows, run = results(clean_week, outcome.run_id)
    assert len(rows) == len(outcome.outcomes)
    assert next(r for r in rows if not r[2])[1] == "amount is positive"
    assert run[:2] == ("FAIL", False)


# The business rules of simtom's records live only here (dbt keeps the structural rules):
# each breaks on one row and fails the gate on its own, as critical.
@pytest.mark.parametrize(
    ("update", "rule"),
    [
        ("product_price = product_price + 1", "amount equals product_price"),
        (
            "first_payment_amount = first_payment_amount + 0.05",
            "first_payment_amount is 25% of amount within a cent",
        ),
        (
            "risk_score = 0.2, risk_level = 'medium'",
            "risk_level is the band of risk_score",
        ),
        (
            "risk_score = 0.8, risk_level = 'high'",
            "risk_level is the band of risk_score",
        ),
        (
            "will_default = false, days_to_first_missed_payment = 14",
            "days_to_first_missed_payment is set exactly when will_default",
        ),
        (
            "will_default = true, days_to_first_missed_payment = NULL",
            "days_to_first_missed_payment is set exactly when will_default",
        ),
    ],
    ids=["price", "first_payment", "band_low", "band_very_high", "missed_days", "no_missed_days"],
)
def test_a_broken_business_rule_fails_the_gate(gate, clean_week, update, rule):
    execute(
        clean_week,
        f"UPDATE raw.transactions SET {update} WHERE transaction_key = '20241127-000003'",
    )
    build_staging(clean_week)
    outcome = gate()
    assert outcome.verdict == FAIL and outcome.exit_code == 1
    assert failed(outcome) == {rule}
    (bad,) = [o for o in outcome.outcomes if not o.success]
    assert bad.severity == "critical" and bad.suite == "bnpl_business_rules"
    assert [row["transaction_key"] for row in bad.observed["examples"]] == ["20241127-000003"]


def test_missing_day_fails(gate, clean_week):
    execute(
        clean_week,
        "DELETE FROM raw.transactions WHERE transaction_date = '2024-11-27'",
        "DELETE FROM raw.extraction_log WHERE extraction_date = '2024-11-27'",
        "DELETE FROM raw.quarantine WHERE extraction_date = '2024-11-27'",
    )
    build_staging(clean_week)
    outcome = gate()
    assert outcome.verdict == FAIL
    assert failed(outcome) == {"no missing day in the checked range"}
    (missing,) = [o for o in outcome.outcomes if not o.success]
    assert missing.observed["examples"] == [{"day": "2024-11-27"}]
    assert results(clean_week, outcome.run_id)[1][0] == "FAIL"


def test_day_loaded_twice_in_staging_fails(gate, clean_week):
    execute(
        clean_week,
        "INSERT INTO staging.stg_simtom__transactions "
        "SELECT * FROM staging.stg_simtom__transactions WHERE transaction_date = '2024-11-29'",
    )
    outcome = gate()
    assert outcome.verdict == FAIL
    assert failed(outcome) == {"no day loaded twice in staging"}
    (twice,) = [o for o in outcome.outcomes if not o.success]
    (example,) = twice.observed["examples"]
    assert example["day"] == "2024-11-29"
    assert example["row_count"] == 2 * example["distinct_keys"]
    assert results(clean_week, outcome.run_id)[1][0] == "FAIL"


def test_day_loaded_twice_in_raw_without_staging_fails(gate, duckdb_path):
    # An appending loader (no primary key) with no dbt staging yet: raw is what is checked.
    load_days(duckdb_path, week(), primary_key=False)
    load_days(duckdb_path, [date(2024, 11, 26)], primary_key=False)
    outcome = gate()
    assert outcome.verdict == FAIL
    # dbt has not built its reconciliation either: the gate says so instead of passing.
    assert failed(outcome) == {
        "transaction_key is unique in raw",
        "no day loaded twice in raw",
        "extracted equals loaded per day",
    }
    (missing,) = [o for o in outcome.outcomes if o.description.startswith("extracted equals")]
    assert "dbt has not built it yet" in missing.observed["examples"][0]["problem"]


def test_a_day_dbt_reconciled_as_unbalanced_fails(gate, clean_week):
    # dbt counted one row fewer of the latest run in raw than the tap emitted (a lost batch;
    # tests/test_daily_reconciliation.py builds such raw layers and runs dbt on them).
    execute(
        clean_week,
        "UPDATE intermediate.int_bnpl_daily_reconciliation SET is_balanced = FALSE, "
        "latest_run_raw_rows = latest_run_raw_rows - 1 WHERE reconciliation_date = '2024-11-30'",
    )
    outcome = gate()
    assert outcome.verdict == FAIL
    assert failed(outcome) == {"extracted equals loaded per day"}
    (mismatch,) = [o for o in outcome.outcomes if not o.success]
    assert mismatch.severity == "critical"
    (example,) = mismatch.observed["examples"]
    assert example["day"] == "2024-11-30"
    assert example["loaded"] == example["extracted"] - 1 == example["staged"] - 1
    rows, _ = results(clean_week, outcome.run_id)
    assert any(not ok and "extracted equals loaded" in d for _, d, ok, _, _ in rows)


def test_a_reconciliation_older_than_the_latest_extraction_fails(gate, clean_week):
    # The day was extracted again after dbt last ran: its reconciliation says nothing yet.
    load_days(clean_week, [date(2024, 11, 27)])
    outcome = gate(days=tuple(week()))
    assert failed(outcome) == {"extracted equals loaded per day"}
    (stale,) = [o for o in outcome.outcomes if not o.success]
    (example,) = stale.observed["examples"]
    assert example["day"] == "2024-11-27" and example["is_balanced"] is True
    assert example["reconciled_extraction_key"] != example["latest_extraction_key"]
    build_staging(clean_week)
    assert gate(days=tuple(week())).verdict == PASS


def test_the_latest_extraction_is_the_latest_request_as_in_dbt(gate, clean_week):
    # Two overlapping re-extractions of a day: the later request finished first. dbt's
    # reconciliation names the later request; so must the gate, or the day looks stale.
    day = date(2024, 11, 27)
    base = datetime.now().replace(microsecond=0) + timedelta(hours=1)  # after clean_week's
    later_request = load_days(
        clean_week,
        [day],
        requested_at=base + timedelta(minutes=2),
        finished_at=base + timedelta(minutes=3),
    )
    load_days(clean_week, [day], requested_at=base, finished_at=base + timedelta(minutes=5))
    build_staging(clean_week)
    execute(  # the reconciliation stands for dbt's: check it names the later request
        clean_week,
        "CREATE TABLE reconciled AS SELECT 1 FROM intermediate.int_bnpl_daily_reconciliation "
        f"WHERE latest_extraction_key = '{later_request}:{day}'",
        "SELECT error('not the later request') FROM (SELECT COUNT(*) AS n FROM reconciled) "
        "WHERE n <> 1",
        "DROP TABLE reconciled",
    )
    outcome = gate(days=tuple(week()))
    assert outcome.verdict == PASS, [o.short() for o in outcome.outcomes if not o.success]


VOLUME_CRITICAL = "daily transactions near simtom's volume model"
VOLUME_WARNING = "daily transactions within simtom's day-to-day noise"
SATURDAY = date(2024, 11, 30)


def week_with(duckdb_path, counts):
    load_days(duckdb_path, week(), counts=counts)
    build_staging(duckdb_path)


def test_a_day_cut_to_half_its_rows_fails_the_gate(gate, duckdb_path):
    # Extraction log and raw agree (the server sent half a day): only the volume check sees it.
    week_with(duckdb_path, {SATURDAY: day_count(SATURDAY, 60, 7) // 2})
    outcome = gate()
    assert outcome.verdict == FAIL and outcome.exit_code == 1
    assert failed(outcome) == {VOLUME_CRITICAL, VOLUME_WARNING}
    critical = next(o for o in outcome.outcomes if o.description.startswith(VOLUME_CRITICAL))
    assert critical.severity == "critical"
    (example,) = critical.observed["examples"]
    assert example["day"] == SATURDAY.isoformat()
    assert example["transactions"] < example["count_low"]


def test_a_day_at_070_of_its_expectation_warns_unless_drift_fails(gate, duckdb_path):
    # x0.70: beyond simtom's 3-sigma noise (x0.74) but not its 5 sigma (x0.61).
    week_with(duckdb_path, {SATURDAY: int(expected(SATURDAY, 60) * 0.70)})
    outcome = gate(days=tuple(week()))
    assert outcome.verdict == WARN and outcome.exit_code == 0
    assert failed(outcome) == {VOLUME_WARNING}
    assert {o.severity for o in outcome.outcomes if not o.success} == {"warning"}
    strict = gate(days=tuple(week()), fail_on_drift=True)
    assert strict.verdict == FAIL and strict.exit_code == 1
    assert results(duckdb_path, strict.run_id)[1][:2] == ("FAIL", False)


def test_a_volume_setting_that_does_not_match_fails(gate, clean_week):
    # Days of about 60 transactions against an expected 1000 a day.
    outcome = gate(expected_volume=1000)
    assert outcome.verdict == FAIL
    assert failed(outcome) == {VOLUME_CRITICAL, VOLUME_WARNING}
    assert {d["base_daily_volume"] for d in outcome.daily} == {1000}


def test_failed_days_are_checked_again_until_fixed(gate, clean_week):
    execute(
        clean_week,
        "UPDATE intermediate.int_bnpl_daily_reconciliation SET is_balanced = FALSE "
        "WHERE reconciliation_date = '2024-11-25'",
    )
    assert gate().verdict == FAIL
    again = gate()
    assert again.verdict == FAIL and again.checked_label == "2024-11-25..2024-12-01"
    build_staging(clean_week)
    assert gate().verdict == PASS
    assert gate().verdict == NOTHING_TO_CHECK


def test_risk_mix_and_default_rate_drift(gate, clean_week):
    execute(
        clean_week,
        "UPDATE raw.transactions SET risk_scenario = 'high_risk_behavior', will_default = TRUE, "
        "days_to_first_missed_payment = 14 WHERE _record_id % 2 = 0",
    )
    build_staging(clean_week)
    outcome = gate()
    assert outcome.verdict == WARN
    assert failed(outcome) == {
        "risk-scenario mix near 60/20/15/5",
        "default rate within 0.5%-20%",
    }
    mix = next(o for o in outcome.outcomes if o.description.startswith("risk-scenario"))
    shares = {e["risk_scenario"]: e["observed_share"] for e in mix.observed["examples"]}
    assert shares["high_risk_behavior"] > 0.45


def test_window_before_first_day_counts_as_day_after_previous_load(gate, duckdb_path):
    start = date(2024, 12, 20)
    load_days(duckdb_path, [start + timedelta(days=i) for i in range(3)])
    build_staging(duckdb_path)
    outcome = gate()
    assert outcome.verdict == PASS
    assert [d["day_type"] for d in outcome.daily] == ["weekday", "weekend", "weekend"]


def test_unreadable_staging_fails_the_gate_and_is_recorded(gate, clean_week):
    # A staging view whose table went away: the checks on it error, the gate says so.
    execute(
        clean_week,
        "DROP TABLE staging.stg_simtom__transactions",
        "CREATE TABLE raw.gone AS SELECT * FROM raw.transactions",
        "CREATE VIEW staging.stg_simtom__transactions AS SELECT * FROM raw.gone",
        "DROP TABLE raw.gone",
    )
    outcome = gate()
    assert outcome.verdict == FAIL
    errors = [o for o in outcome.outcomes if o.error]
    assert {o.description.split(" (")[0] for o in errors} == {"no day loaded twice in staging"}
    assert all("gone" in o.error and "\n" not in o.error for o in errors)
    assert len(outcome.daily) == 7
    rows, run = results(clean_week, outcome.run_id)
    assert run[0] == "FAIL" and sum(not ok for _, _, ok, _, _ in rows) == 1


def critical_failures(outcome):
    return {o.description.split(" (")[0] for o in outcome.critical_failures}


def empty_day(path, day: str) -> None:
    """What a day whose every line was rejected leaves behind, had the tap not failed it."""
    execute(
        path,
        f"DELETE FROM raw.transactions WHERE transaction_date = '{day}'",
        f"DELETE FROM staging.stg_simtom__transactions WHERE transaction_date = '{day}'",
        "UPDATE raw.extraction_log SET records_emitted = 0, records_received = "
        f"records_quarantined WHERE extraction_date = '{day}'",
    )


def test_a_day_whose_lines_all_went_to_quarantine_fails_as_empty(gate, clean_week):
    empty_day(clean_week, "2024-11-27")
    outcome = gate(max_quarantine_share=1.0)
    assert outcome.verdict == FAIL
    # The day is also far below simtom's volume model: both critical checks see it.
    assert "no empty day" in critical_failures(outcome)
    (empty,) = [o for o in outcome.critical_failures if o.description.startswith("no empty")]
    (example,) = empty.observed["examples"]
    assert example["day"] == "2024-11-27" and example["records_received"] == 1
    assert example["transactions_loaded"] == 0
    rows, _ = results(clean_week, outcome.run_id)
    assert any(not ok and d.startswith("no empty day") for _, d, ok, _, _ in rows)
    # With the default share the same day is over it too.
    assert critical_failures(gate(max_quarantine_share=0.01)) >= {"no empty day"}


def test_quarantine_share_above_the_setting_fails_and_at_it_passes(gate, clean_week):
    days = tuple(week())
    with duckdb.connect(str(clean_week), read_only=True) as con:
        shares = con.execute(
            "SELECT extraction_date, records_quarantined, records_received FROM "
            "raw.extraction_log ORDER BY records_quarantined / records_received DESC"
        ).fetchall()
    (top_day, top_rejected, top_received), *_ = shares
    top = top_rejected / top_received
    assert top_rejected > 0 and top > 0.01
    # The largest share passes at exactly that setting and fails just below it.
    assert gate(days=days, max_quarantine_share=top).verdict == PASS
    outcome = gate(days=days, max_quarantine_share=top - 0.001)
    assert outcome.verdict == FAIL
    assert critical_failures(outcome) == {
        f"quarantined share of each day's lines at most {top - 0.001:.1%}"
    }
    (share,) = outcome.critical_failures
    (example,) = share.observed["examples"]
    assert (example["day"], example["records_quarantined"]) == (str(top_day), top_rejected)
    # The default 1%: every day whose quarantined share is above it fails.
    default = gate(days=days, max_quarantine_share=0.01)
    (share,) = default.critical_failures
    assert {e["day"] for e in share.observed["examples"]} == {
        str(day) for day, rejected, received in shares if rejected / received > 0.01
    }


def test_fields_the_tap_does_not_know_are_a_warning_naming_them(gate, clean_week):
    execute(
        clean_week,
        """UPDATE raw.transactions SET extra_fields = '{"merchant_tier":"gold"}'
           WHERE _record_id % 3 = 0""",
        """UPDATE raw.transactions SET extra_fields = '{"zeta":1,"merchant_tier":"x"}'
           WHERE _record_id = 1 AND transaction_date = '2024-11-30'""",
    )
    build_staging(clean_week)
    outcome = gate()
    assert outcome.verdict == WARN and outcome.exit_code == 0
    assert failed(outcome) == {"simtom sent no field the tap does not know"}
    (warning,) = outcome.warnings
    assert warning.severity == "warning"
    assert "merchant_tier, zeta" in warning.short()
    rows, _ = results(clean_week, outcome.run_id)
    (row,) = [r for r in rows if r[1].startswith("simtom sent no field")]
    assert row[2] is False and row[3] == "warning" and "merchant_tier, zeta" in row[4]


def test_fields_are_read_from_raw_before_staging_exists(gate, duckdb_path):
    load_days(duckdb_path, week(), quarantined_per_day=1)
    execute(
        duckdb_path, """UPDATE raw.transactions SET extra_fields = '{"merchant_tier":"gold"}'"""
    )
    outcome = gate()
    (warning,) = outcome.warnings
    assert warning.observed["examples"] == [{"unknown_fields": "merchant_tier", "field_count": 1}]
