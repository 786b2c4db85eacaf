"""HTTP behaviour against a scripted endpoint (pytest-httpserver): every fault, one by one.

The scripted server answers like simtom (same wire format, fixed per-day counts) but lets
each request fail, stall, break off or carry bad lines exactly where a test needs it.
pytest-httpserver speaks HTTP/1.0, so a body that breaks off here looks like a clean close:
these tests cover the tap's "ended before the window's last day" path, while the chunked
abrupt drop is covered against the local simtom server in test_sync.py.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import socket

import pytest
from fake_simtom import FakeSimtom, Step, day_count, raw, with_value, without
from harness import bookmark_days, cli, error_lines, run_tap

from tap_simtom_bnpl.client import SimtomAPIError
from tap_simtom_bnpl.extract import RetriesExhausted
from tap_simtom_bnpl.settings import SettingsError

START = dt.date(2024, 11, 25)
END = dt.date(2024, 11, 27)
DAYS = [START + dt.timedelta(days=n) for n in range(3)]


def config_for(fake: FakeSimtom, **overrides) -> dict:
    config = {
        "api_url": fake.url,
        "start_date": START.isoformat(),
        "end_date": END.isoformat(),
        "seed": 7,
        "base_daily_volume": 10,
        "retry_backoff_seconds": 0.01,
        "retry_backoff_max_seconds": 0.05,
        "max_retries": 3,
        "request_timeout": 5,
    }
    config.update(overrides)
    return config


def expected_keys(counts: dict[dt.date, int] | None = None) -> list[str]:
    return [f"{day:%Y%m%d}-{n:06d}" for day in DAYS for n in range(day_count(day, counts or {}))]


def log_rows(output) -> dict[str, dict]:
    return {row["extraction_date"]: row for row in output.records("extraction_log")}


def assert_complete(output, counts: dict[dt.date, int] | None = None) -> None:
    keys = output.keys("transactions")
    assert len(keys) == len(set(keys)), "duplicate transaction keys"
    assert sorted(keys) == expected_keys(counts)
    assert output.final_state["bookmarks"]["transactions"]["replication_key_value"] == str(END)


def test_clean_response_is_read_by_key_name_and_typed(httpserver):
    fake = FakeSimtom(httpserver)
    output = run_tap(config_for(fake))
    assert_complete(output)
    assert len(fake.bodies) == 1
    assert fake.bodies[0] == {
        "start_date": "2024-11-25",
        "end_date": "2024-11-27",
        "base_daily_volume": 10,
        "seed": 7,
    }
    first = output.records("transactions")[0]
    assert first["_timestamp"] == "2024-11-25T00:00:00+00:00"
    assert first["transaction_date"] == "2024-11-25"
    assert first["customer_key"].startswith("cust_")
    assert first["credit_utilization"] is None


@pytest.mark.parametrize("statuses", [[500], [500, 503, 502]])
def test_5xx_is_retried_with_the_same_window(httpserver, statuses):
    fake = FakeSimtom(
        httpserver, [Step(status=s, error_body='{"detail":"boom"}') for s in statuses]
    )
    output = run_tap(config_for(fake))
    assert_complete(output)
    assert len(fake.bodies) == len(statuses) + 1
    assert all(body == fake.bodies[0] for body in fake.bodies)
    assert {row["attempts"] for row in output.records("extraction_log")} == {len(statuses) + 1}


def test_429_waits_at_least_retry_after(httpserver, caplog):
    fake = FakeSimtom(
        httpserver, [Step(status=429, headers={"Retry-After": "1"}, error_body="slow down")]
    )
    with caplog.at_level(logging.WARNING):
        output = run_tap(config_for(fake))
    assert_complete(output)
    waits = [
        float(m.group(1))
        for m in (re.search(r"in ([0-9.]+) s$", r.getMessage()) for r in caplog.records)
        if m
    ]
    assert len(waits) == 1
    # The backoff base is 0.01 s here: only the header can make the wait reach a second.
    assert waits[0] >= 1.0
    assert "HTTP 429" in caplog.text


def test_read_timeout_is_retried(threaded_httpserver):
    fake = FakeSimtom(threaded_httpserver, [Step(sleep=1.5)])
    output = run_tap(config_for(fake, request_timeout=0.5))
    assert_complete(output)
    assert len(fake.bodies) == 2
    assert {row["attempts"] for row in output.records("extraction_log")} == {2}


def test_connection_refused_exhausts_retries_with_one_line():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = {
        "api_url": f"http://127.0.0.1:{port}",
        "start_date": "2024-11-25",
        "end_date": "2024-11-26",
        "retry_backoff_seconds": 0.01,
        "retry_backoff_max_seconds": 0.02,
        "max_retries": 2,
    }
    with pytest.raises(RetriesExhausted) as failure:
        run_tap(config)
    message = str(failure.value)
    assert "\n" not in message
    assert "failed to connect" in message
    assert "3 failed attempts" in message


@pytest.mark.parametrize("tear", [False, True], ids=["ends-early", "torn-line"])
def test_body_cut_mid_window_resumes_at_first_incomplete_day(httpserver, tear):
    first_day = day_count(DAYS[0])
    # Stop two records into the second day: day 1 is complete, day 2 is not.
    step = Step(tear_after=first_day + 2) if tear else Step(end_after=first_day + 2)
    fake = FakeSimtom(httpserver, [step])
    output = run_tap(config_for(fake))
    assert_complete(output)
    starts = [body["start_date"] for body in fake.bodies]
    if tear:
        # A torn line is a certain break: retry at once from the incomplete day.
        assert starts == ["2024-11-25", "2024-11-26"]
    else:
        # A clean end before the last day: a probe of the remaining days finds data, so
        # the body was cut short, and the retry starts at the incomplete day.
        assert starts == ["2024-11-25", "2024-11-27", "2024-11-26"]
    rows = log_rows(output)
    assert rows["2024-11-25"]["attempts"] == 1
    assert rows["2024-11-25"]["request_start_date"] == "2024-11-25"
    assert rows["2024-11-26"]["attempts"] == 2
    assert rows["2024-11-26"]["request_start_date"] == "2024-11-26"
    assert rows["2024-11-27"]["request_start_date"] == "2024-11-26"
    assert output.records("quarantine") == []
    # One STATE per completed day, in order, never moving back.
    days = [s["bookmarks"]["transactions"]["replication_key_value"] for s in output.states]
    assert days == ["2024-11-25", "2024-11-26", "2024-11-27"]


def test_trailing_days_without_records_are_accepted_after_an_empty_probe(httpserver):
    counts = {END: 0}
    fake = FakeSimtom(httpserver, counts=counts)
    output = run_tap(config_for(fake))
    assert_complete(output, counts)
    assert [b["start_date"] for b in fake.bodies] == ["2024-11-25", "2024-11-27"]
    assert log_rows(output)["2024-11-27"]["records_received"] == 0


def test_an_empty_response_is_believed_only_when_asked_twice(httpserver):
    fake = FakeSimtom(httpserver, [Step(end_after=0)])
    # First answer: empty although the days have records; the tap asks again.
    output = run_tap(config_for(fake))
    assert_complete(output)
    assert [b["start_date"] for b in fake.bodies] == ["2024-11-25", "2024-11-25"]
    # Days that really are empty: two empty answers, then three empty days.
    fake.counts = dict.fromkeys(DAYS, 0)
    fake.bodies.clear()
    output = run_tap(config_for(fake))
    assert output.keys("transactions") == []
    assert len(fake.bodies) == 2
    assert [row["records_received"] for row in output.records("extraction_log")] == [0, 0, 0]
    assert bookmark_days(output.final_state)["transactions"] == END.isoformat()


def test_bad_lines_are_quarantined_verbatim_and_counted(httpserver):
    # Three more lines on the second day, so that its three bad lines leave some good ones:
    # a day of bad lines only fails the run (tests/test_schema_drift.py).
    counts = {DAYS[1]: day_count(DAYS[1]) + 3}
    first_day = day_count(DAYS[0])
    mangles = {
        1: raw(b'data: {"transaction_id": "txn_00000001", "amou\n\n'),
        2: without("transaction_id"),
        first_day: with_value("amount", "abc"),
        first_day + 1: without("customer_id"),
        first_day + 2: without("_timestamp"),
    }
    fake = FakeSimtom(httpserver, [Step(mangle=mangles)], counts=counts)
    # Days of 3-6 lines with 2-3 bad ones: allowed, the point is the quarantine rows.
    output = run_tap(config_for(fake, max_rejected_share=0.5))
    quarantine = output.records("quarantine")
    reasons = [row["reason"] for row in quarantine]
    assert reasons[0].startswith("invalid JSON:")
    assert reasons[1:] == [
        "missing transaction_id",
        "amount is not numeric: 'abc'",
        "missing customer_id",
        "missing _timestamp",
    ]
    assert quarantine[0]["raw_line"] == 'data: {"transaction_id": "txn_00000001", "amou'
    assert json.loads(quarantine[2]["raw_line"][6:])["amount"] == "abc"
    assert all("\n" not in reason for reason in reasons)
    assert [row["extraction_date"] for row in quarantine] == [
        "2024-11-25",
        "2024-11-25",
        "2024-11-26",
        "2024-11-26",
        "2024-11-26",
    ]
    rows = log_rows(output)
    assert rows["2024-11-25"]["records_quarantined"] == 2
    assert rows["2024-11-26"]["records_quarantined"] == 3
    for day in DAYS:
        row = rows[day.isoformat()]
        assert row["records_received"] == day_count(day, counts)
        assert row["records_emitted"] + row["records_quarantined"] == row["records_received"]
    # The valid records keep the keys they have in a clean response.
    bad = {"20241125-000001", "20241125-000002"} | {f"20241126-{n:06d}" for n in range(3)}
    assert sorted(output.keys("transactions")) == sorted(set(expected_keys(counts)) - bad)
    assert len(output.records("quarantine")) == len(set(output.keys("quarantine")))


ERRORS = {
    422: (
        '{"detail":[{"type":"value_error","loc":["body","end_date"],"msg":"Value error, '
        'end_date must be >= start_date","input":"2024-12-20"}]}',
        "end_date: Value error, end_date must be >= start_date",
    ),
    404: ('{"detail":"Unknown generator: bnpl"}', "Unknown generator: bnpl"),
    401: ('{"detail":"Invalid API key"}', "Invalid API key"),
}


@pytest.mark.parametrize("status", sorted(ERRORS))
def test_4xx_fails_at_once_with_the_server_message(httpserver, status):
    body, message = ERRORS[status]
    fake = FakeSimtom(httpserver, [Step(status=status, error_body=body)])
    with pytest.raises(SimtomAPIError) as failure:
        run_tap(config_for(fake))
    text = str(failure.value)
    assert "\n" not in text
    assert f"HTTP {status}" in text
    assert message in text
    assert len(fake.bodies) == 1


def test_4xx_on_the_command_line_is_one_error_line_and_exit_1(httpserver, tmp_path):
    body, message = ERRORS[422]
    fake = FakeSimtom(httpserver, [Step(status=422, error_body=body)])
    result = cli(tmp_path, config=config_for(fake))
    assert result.returncode == 1
    errors = error_lines(result.stderr)
    assert len(errors) == 1
    assert message in errors[0]
    assert "Traceback" not in result.stderr
    assert result.output().states == []


def test_api_key_is_sent_as_a_header_and_never_logged(httpserver, caplog):
    fake = FakeSimtom(httpserver)
    with caplog.at_level(logging.DEBUG):
        output = run_tap(config_for(fake, api_key="s3cr3t-key", api_key_header="X-Simtom-Key"))
    assert_complete(output)
    assert fake.headers[0]["X-Simtom-Key"] == "s3cr3t-key"
    assert "s3cr3t-key" not in caplog.text
    assert all("s3cr3t-key" not in json.dumps(m) for m in output.messages)


INVALID = [
    ({"start_date": "2024-02-30"}, "start_date"),
    ({"start_date": None}, "start_date"),
    ({"end_date": "yesterday"}, "end_date"),
    ({"end_date": "2024-11-01"}, "end_date"),
    ({"window_days": 0}, "window_days"),
    ({"window_days": 366}, "window_days"),
    ({"base_daily_volume": 0}, "base_daily_volume"),
    ({"base_daily_volume": -10}, "base_daily_volume"),
    ({"max_parallel_requests": 0}, "max_parallel_requests"),
    ({"max_retries": -1}, "max_retries"),
    ({"request_timeout": 0}, "request_timeout"),
    ({"seed": "abc"}, "seed"),
    ({"api_url": "not a url"}, "api_url"),
    ({"volume_profile": {"weekday": {"min": 0, "max": 10}}}, "volume_profile.weekday.min"),
    ({"volume_profile": {"weekend": {"min": 50, "max": 10}}}, "volume_profile.weekend"),
    ({"volume_profile": {"country": "XX"}}, "volume_profile.country"),
    ({"volume_profile": {"unknown": 1}}, "volume_profile"),
    ({"volume_profile": "yes"}, "volume_profile"),
]


@pytest.mark.parametrize(("override", "setting"), INVALID, ids=[s for _, s in INVALID])
def test_invalid_settings_fail_before_any_request(httpserver, override, setting):
    fake = FakeSimtom(httpserver)
    config = config_for(fake)
    config.update(override)
    with pytest.raises(SettingsError) as failure:
        run_tap(config)
    message = str(failure.value)
    assert message.startswith(f"{setting}:") or message.startswith(f"{setting}.")
    assert "\n" not in message
    assert fake.bodies == []


def test_invalid_setting_on_the_command_line_is_one_line(httpserver, tmp_path):
    fake = FakeSimtom(httpserver)
    result = cli(tmp_path, config=config_for(fake, window_days=400))
    assert result.returncode == 1
    errors = error_lines(result.stderr)
    assert len(errors) == 1
    assert errors[0].endswith("window_days: expected an integer from 1 to 365, got 400")
    assert result.stdout == ""
    assert fake.bodies == []
