"""End to end against the local simtom-compatible server over loopback.

Covers the issue's done-when checks for 2024-11-25..2024-12-01, day bookmarks, ordering
of the four streams, parallel windows, chunked connection drops, line faults, volume
profiles, catalog selection and stream maps.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
from collections import Counter
from contextlib import redirect_stdout

import pytest
from harness import DAYS, END, START, TapOutput, bookmark_days, run_tap, simtom_config
from simtom_local import Faults

from tap_simtom_bnpl.settings import SettingsError
from tap_simtom_bnpl.tap import TapSimtomBnpl

RUN_FIELDS = {"extraction_run_id", "requested_at"}


def strip_run_fields(record: dict) -> dict:
    return {k: v for k, v in record.items() if k not in RUN_FIELDS}


def by_key(output: TapOutput, stream: str, key: str) -> dict[str, dict]:
    return {record[key]: strip_run_fields(record) for record in output.records(stream)}


def assert_consistent(output: TapOutput) -> None:
    """Keys unique, customers before their transactions, one STATE after each whole day."""
    keys = output.keys("transactions")
    assert keys and len(keys) == len(set(keys))
    profiles_seen: set[str] = set()
    customer_keys: set[str] = set()
    committed_day: str | None = None
    for message in output.messages:
        if message["type"] == "STATE":
            days = set(bookmark_days(message["value"]).values())
            assert len(days) == 1, "all bookmarks move together"
            day = days.pop()
            assert committed_day is None or day >= committed_day, "state moved back"
            committed_day = day
            continue
        if message["type"] != "RECORD":
            continue
        record = message["record"]
        if message["stream"] == "customers":
            profiles_seen.add(record["customer_profile_key"])
            customer_keys.add(record["customer_key"])
        elif message["stream"] == "transactions":
            assert record["customer_profile_key"] in profiles_seen
            assert record["customer_key"] in customer_keys
            assert committed_day is None or record["transaction_date"] > committed_day
            assert record["transaction_key"].startswith(record["transaction_date"].replace("-", ""))
            assert record["_timestamp"].endswith("+00:00")


def test_done_when_quick_start_range(simtom, tmp_path):
    """The issue's done-when checks for 2024-11-25..2024-12-01."""
    config = simtom_config(simtom)
    clean = run_tap(config)
    assert_consistent(clean)
    assert len(simtom.requests) == 1, "one aligned 7-day window (Monday to Sunday)"

    # Final bookmarks are the last day, for all four streams; one STATE per day.
    assert bookmark_days(clean.final_state) == dict.fromkeys(
        ("transactions", "customers", "extraction_log", "quarantine"), END
    )
    assert [bookmark_days(s)["transactions"] for s in clean.states] == DAYS

    # Every transaction's customer is present.
    customers = {c["customer_key"] for c in clean.records("customers")}
    assert {t["customer_key"] for t in clean.records("transactions")} <= customers
    profiles = clean.keys("customers")
    assert len(profiles) == len(set(profiles))

    # extraction_log reconciles with the transactions, day by day.
    per_day = Counter(t["transaction_date"] for t in clean.records("transactions"))
    log = {row["extraction_date"]: row for row in clean.records("extraction_log")}
    assert sorted(log) == DAYS
    for day, row in log.items():
        assert row["records_emitted"] == row["records_received"] == per_day[day]
        assert row["attempts"] == 1
        assert (row["window_start"], row["window_end"]) == (START, END)

    # A rerun from the final state emits no records, and the state stays where it was.
    simtom.clear_requests()
    rerun = run_tap(config, state=clean.final_state)
    assert [m for m in rerun.messages if m["type"] == "RECORD"] == []
    assert rerun.final_state == clean.final_state
    assert simtom.requests == []

    # The same range with four requests in flight gives the same key set.
    parallel = run_tap({**config, "max_parallel_requests": 4})
    assert sorted(parallel.keys("transactions")) == sorted(clean.keys("transactions"))


def test_parallel_windows_keep_date_order_and_key_set(simtom):
    config = simtom_config(simtom, window_days=1)
    serial = run_tap(config)
    simtom.clear_requests()
    parallel = run_tap({**config, "max_parallel_requests": 4})
    assert_consistent(parallel)
    assert sorted(r["start_date"] for r in simtom.requests) == DAYS
    assert all(r["start_date"] == r["end_date"] for r in simtom.requests)
    assert parallel.keys("transactions") == serial.keys("transactions")
    dates = [t["transaction_date"] for t in parallel.records("transactions")]
    assert dates == sorted(dates)
    # Concurrent requests re-draw record contents but not counts: the key set holds.
    assert [bookmark_days(s)["transactions"] for s in parallel.states] == DAYS


def test_seeded_rerun_of_a_window_is_identical_apart_from_run_fields(simtom):
    config = simtom_config(simtom)
    first, second = run_tap(config), run_tap(config)
    assert by_key(first, "transactions", "transaction_key") == by_key(
        second, "transactions", "transaction_key"
    )
    assert set(first.keys("customers")) == set(second.keys("customers"))


def test_unseeded_runs_never_share_customer_keys(simtom):
    config = simtom_config(simtom, seed=None, end_date="2024-11-26")
    first, second = run_tap(config), run_tap(config)
    assert "seed" not in simtom.requests[0]
    assert simtom.requests[0] == simtom.requests[1]
    first_keys = {c["customer_key"] for c in first.records("customers")}
    second_keys = {c["customer_key"] for c in second.records("customers")}
    assert first_keys and second_keys and not first_keys & second_keys
    assert {r["seed"] for r in first.records("extraction_log")} == {None}


@pytest.mark.parametrize("mid_line", [False, True], ids=["between-lines", "mid-line"])
def test_dropped_connection_resumes_from_first_incomplete_day(simtom, mid_line):
    config = simtom_config(simtom)
    clean = run_tap(config)
    per_day = Counter(t["transaction_date"] for t in clean.records("transactions"))
    # Drop 10 records into the third day.
    drop_after = per_day[DAYS[0]] + per_day[DAYS[1]] + 10
    simtom.clear_requests()
    simtom.set_faults(Faults(drop_after=drop_after, drop_mid_line=mid_line))
    broken = run_tap(config)
    assert_consistent(broken)
    assert [r["start_date"] for r in simtom.requests] == [START, DAYS[2]]
    assert sorted(broken.keys("transactions")) == sorted(clean.keys("transactions"))
    log = {row["extraction_date"]: row for row in broken.records("extraction_log")}
    assert [log[day]["attempts"] for day in DAYS] == [1, 1, 2, 2, 2, 2, 2]
    assert log[DAYS[2]]["request_start_date"] == DAYS[2]
    assert broken.records("quarantine") == [], "a torn line is a break, not bad data"
    # Days completed before the drop keep the first response's records exactly.
    clean_records = by_key(clean, "transactions", "transaction_key")
    for key, record in by_key(broken, "transactions", "transaction_key").items():
        if record["transaction_date"] in DAYS[:2]:
            assert record == clean_records[key]


def test_5xx_and_429_from_the_server_are_survived(simtom):
    config = simtom_config(simtom, end_date="2024-11-26")
    clean = run_tap(config)
    simtom.set_faults(Faults(fail_first=2, fail_status=503))
    assert sorted(run_tap(config).keys("transactions")) == sorted(clean.keys("transactions"))
    simtom.set_faults(Faults(fail_first=1, fail_status=429, retry_after=0))
    assert sorted(run_tap(config).keys("transactions")) == sorted(clean.keys("transactions"))


def test_line_faults_are_quarantined_and_other_keys_do_not_move(simtom):
    # One bad line in a day of 11-70 is over the default 1%: allow it, the point here is
    # what the quarantine holds (tests/test_schema_drift.py covers the limit).
    config = simtom_config(simtom, max_rejected_share=0.1)
    clean = run_tap(config)
    clean_by_id = {t["_record_id"]: t["transaction_key"] for t in clean.records("transactions")}
    bad = [3, 70, 150, 200, 260]
    simtom.set_faults(
        Faults(
            malformed_at=[3],
            missing_transaction_id_at=[70],
            missing_customer_id_at=[150],
            missing_timestamp_at=[200],
            non_numeric_amount_at=[260],
        )
    )
    faulty = run_tap(config)
    assert_consistent(faulty)
    reasons = [q["reason"] for q in faulty.records("quarantine")]
    assert reasons[0].startswith("invalid JSON")
    assert reasons[1:] == [
        "missing transaction_id",
        "missing customer_id",
        "missing _timestamp",
        "amount is not numeric: 'n/a'",
    ]
    expected = sorted(key for rid, key in clean_by_id.items() if rid not in bad)
    assert sorted(faulty.keys("transactions")) == expected
    log = faulty.records("extraction_log")
    assert sum(row["records_quarantined"] for row in log) == len(bad)
    assert sum(row["records_received"] for row in log) == len(clean_by_id)
    assert bookmark_days(faulty.final_state)["quarantine"] == END


def test_volume_profile_requests_each_day_alone_with_its_day_type_volume(simtom):
    profile = {
        "weekday": {"min": 20, "max": 30},
        "weekend": {"min": 10, "max": 12},
        "holiday": {"min": 50, "max": 60},
    }
    config = simtom_config(simtom, volume_profile=profile, window_days=7)
    output = run_tap(config)
    assert_consistent(output)
    bodies = {r["start_date"]: r for r in simtom.requests}
    assert sorted(bodies) == DAYS
    log = {row["extraction_date"]: row for row in output.records("extraction_log")}
    kinds = {day: log[day]["day_type"] for day in DAYS}
    assert kinds == {
        "2024-11-25": "weekday",
        "2024-11-26": "weekday",
        "2024-11-27": "weekday",
        "2024-11-28": "holiday",  # Thanksgiving in the US calendar
        "2024-11-29": "weekday",
        "2024-11-30": "weekend",
        "2024-12-01": "weekend",
    }
    for day, body in bodies.items():
        assert body["end_date"] == day
        low, high = profile[kinds[day]]["min"], profile[kinds[day]]["max"]
        assert low <= body["base_daily_volume"] <= high
        assert log[day]["base_daily_volume"] == body["base_daily_volume"]
        assert (log[day]["window_start"], log[day]["window_end"]) == (day, day)
    simtom.clear_requests()
    run_tap(config)
    assert {r["start_date"]: r for r in simtom.requests} == bodies, "volumes are deterministic"


def discovered_catalog(config: dict) -> dict:
    return TapSimtomBnpl(config=config).catalog_dict


def test_catalog_selection_and_property_deselection(simtom):
    config = simtom_config(simtom, end_date="2024-11-26")
    catalog = discovered_catalog(config)
    for entry in catalog["streams"]:
        for item in entry["metadata"]:
            if item["breadcrumb"] == []:
                item["metadata"]["selected"] = entry["stream"] in {"transactions", "extraction_log"}
            elif entry["stream"] == "transactions" and item["breadcrumb"][-1] == "risk_score":
                item["metadata"]["selected"] = False
    output = run_tap(config, catalog=catalog)
    emitted = {m["stream"] for m in output.messages if m["type"] in {"RECORD", "SCHEMA"}}
    assert emitted == {"transactions", "extraction_log"}
    assert all("risk_score" not in t for t in output.records("transactions"))
    assert all("amount" in t for t in output.records("transactions"))
    assert set(output.final_state["bookmarks"]) == {"transactions", "extraction_log"}


def test_stream_maps_apply_to_emitted_records(simtom):
    config = simtom_config(
        simtom,
        end_date="2024-11-25",
        stream_maps={"transactions": {"amount_cents": "int(amount * 100)", "device_os": None}},
    )
    output = run_tap(config)
    records = output.records("transactions")
    assert records
    assert all(r["amount_cents"] == int(r["amount"] * 100) for r in records)
    assert all("device_os" not in r for r in records)
    schema = next(
        m["schema"]
        for m in output.messages
        if m["type"] == "SCHEMA" and m["stream"] == "transactions"
    )
    assert "amount_cents" in schema["properties"]


def test_state_from_an_older_run_resumes_after_its_day(simtom):
    config = simtom_config(simtom)
    clean = run_tap(config)
    state = {
        "bookmarks": {
            name: {"replication_key": "x", "replication_key_value": "2024-11-28"}
            for name in ("transactions", "customers", "extraction_log", "quarantine")
        }
    }
    simtom.clear_requests()
    resumed = run_tap(config, state=state)
    # The same aligned window is asked for, and only the later days are emitted.
    assert simtom.requests == [
        {"start_date": START, "end_date": END, "base_daily_volume": 60, "seed": 42}
    ]
    later = {
        key: record
        for key, record in by_key(clean, "transactions", "transaction_key").items()
        if record["transaction_date"] > "2024-11-28"
    }
    assert by_key(resumed, "transactions", "transaction_key") == later
    assert [bookmark_days(s)["transactions"] for s in resumed.states] == [
        "2024-11-28",
        "2024-11-29",
        "2024-11-30",
        END,
    ]


def test_bookmark_beyond_end_date_never_moves_back(simtom):
    config = simtom_config(simtom, end_date="2024-11-27")
    state = {
        "bookmarks": {
            name: {"replication_key": "x", "replication_key_value": "2024-12-31"}
            for name in ("transactions", "customers", "extraction_log", "quarantine")
        }
    }
    output = run_tap(config, state=state)
    assert [m for m in output.messages if m["type"] == "RECORD"] == []
    assert set(bookmark_days(output.final_state).values()) == {"2024-12-31"}
    assert simtom.requests == []


def test_invalid_bookmark_is_one_line(simtom):
    state = {"bookmarks": {"transactions": {"replication_key_value": "soon"}}}
    with pytest.raises(SettingsError, match=r"^state: bookmarks.transactions.replication_key"):
        run_tap(simtom_config(simtom), state=state)


def test_dry_run_stops_after_a_complete_day(simtom):
    tap = TapSimtomBnpl(config=simtom_config(simtom))
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        assert tap.run_connection_test()
    output = TapOutput.parse(buffer.getvalue())
    assert [bookmark_days(s)["transactions"] for s in output.states] == [START]
    assert {t["transaction_date"] for t in output.records("transactions")} == {START}


def test_day_with_a_day_type_label_is_null_without_profile(simtom):
    output = run_tap(simtom_config(simtom, end_date="2024-11-25"))
    (row,) = output.records("extraction_log")
    assert row["day_type"] is None
    assert row["base_daily_volume"] == 60
    assert dt.datetime.fromisoformat(row["finished_at"]) >= dt.datetime.fromisoformat(
        row["started_at"]
    )


def test_progress_logs_records_rate_days_done_and_eta(simtom, caplog):
    config = simtom_config(simtom, start_date="2024-11-20", end_date="2024-12-01")
    with caplog.at_level(logging.INFO, logger="tap-simtom-bnpl"):
        run_tap(config)
    lines = [r.getMessage() for r in caplog.records if r.name == "tap-simtom-bnpl"]
    day_lines = [line for line in lines if line.startswith("2024-")]
    assert len(day_lines) == 12
    assert all("records/s" in line for line in day_lines)
    assert day_lines[0].endswith("1/12 days done, ETA " + day_lines[0].rsplit("ETA ", 1)[1])
    assert "12/12 days done, ETA 0m00s" in day_lines[-1]


def test_a_stream_used_on_its_own_yields_its_records(simtom):
    tap = TapSimtomBnpl(config=simtom_config(simtom, end_date="2024-11-25"))
    customers = list(tap.streams["customers"].get_records(None))
    assert customers and all(c["first_seen_date"] == "2024-11-25" for c in customers)
    assert len({c["customer_profile_key"] for c in customers}) == len(customers)
