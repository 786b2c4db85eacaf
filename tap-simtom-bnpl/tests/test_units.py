"""The small modules on their own: windows, keys, volumes, parsing, settings, HTTP helpers."""

from __future__ import annotations

import datetime as dt
import json
import random
from decimal import Decimal

import msgspec
import pytest

from tap_simtom_bnpl.client import backoff_delay, parse_retry_after, server_message
from tap_simtom_bnpl.keys import KEY_CACHE_SIZE, ResponseKeys, canonical_body, transaction_key
from tap_simtom_bnpl.parsing import LineParser, Parsed, Rejected
from tap_simtom_bnpl.settings import SettingsError, parse_settings
from tap_simtom_bnpl.state import DayBookmarks
from tap_simtom_bnpl.streams import REPLICATION_KEYS
from tap_simtom_bnpl.volume_profile import VolumeProfile, VolumeRange
from tap_simtom_bnpl.windows import ANCHOR, Window, aligned_start, pending_windows, windows

D = dt.date


def test_windows_are_aligned_to_the_anchor_and_clipped_only_to_the_range():
    assert ANCHOR.weekday() == 0
    assert list(windows(D(2024, 11, 25), D(2024, 12, 1), 7)) == [
        Window(D(2024, 11, 25), D(2024, 12, 1))
    ]
    assert list(windows(D(2024, 11, 27), D(2024, 12, 10), 7)) == [
        Window(D(2024, 11, 27), D(2024, 12, 1)),
        Window(D(2024, 12, 2), D(2024, 12, 8)),
        Window(D(2024, 12, 9), D(2024, 12, 10)),
    ]
    # Any start inside a window maps to the same aligned window.
    for offset in range(30):
        day = D(2024, 1, 1) + dt.timedelta(days=offset)
        assert (aligned_start(day, 30) - ANCHOR).days % 30 == 0
        assert aligned_start(day, 30) <= day < aligned_start(day, 30) + dt.timedelta(30)


def test_pending_windows_are_not_clipped_to_the_bookmark():
    resumed = list(pending_windows(D(2024, 11, 25), D(2024, 12, 10), 7, D(2024, 11, 28)))
    assert resumed[0] == Window(D(2024, 11, 25), D(2024, 12, 1))
    assert list(pending_windows(D(2024, 11, 25), D(2024, 12, 1), 7, D(2024, 12, 1))) == []


def test_windows_cover_every_day_exactly_once():
    for size in (1, 2, 5, 7, 30, 365):
        days = [
            day
            for window in windows(D(2023, 12, 20), D(2025, 1, 10), size)
            for day in (window.start + dt.timedelta(n) for n in range(window.days))
        ]
        assert days == [D(2023, 12, 20) + dt.timedelta(n) for n in range(len(days))]
        assert days[-1] == D(2025, 1, 10)


def test_transaction_key_format():
    assert transaction_key(D(2024, 11, 25), 42) == "20241125-000042"
    assert transaction_key(D(2024, 11, 25), 1_234_567) == "20241125-1234567"


def test_customer_keys_depend_on_the_body_and_the_id():
    body = {"start_date": "2024-11-25", "end_date": "2024-12-01", "seed": 1}
    keys = ResponseKeys(body)
    assert canonical_body(body) == canonical_body(dict(reversed(body.items())))
    same = ResponseKeys(dict(reversed(body.items())))
    assert keys.customer_key("cust_000001") == same.customer_key("cust_000001")
    assert keys.customer_key("cust_000001") != keys.customer_key("cust_000002")
    other_window = ResponseKeys({**body, "start_date": "2024-11-26"})
    assert keys.customer_key("cust_000001") != other_window.customer_key("cust_000001")
    scoped = ResponseKeys(body, scope="run:1")
    assert keys.customer_key("cust_000001") != scoped.customer_key("cust_000001")
    key = keys.customer_key("cust_000001")
    assert key.startswith("cust_") and len(key) == 21
    profile = keys.profile_key(key, ("25-34", "50k-75k", "good", "verified", "stable", "CA"))
    changed = keys.profile_key(key, ("25-34", "50k-75k", "good", "verified", "stable", "TX"))
    assert len(profile) == 16 and profile != changed


def test_key_cache_stays_bounded_and_never_changes_a_key():
    keys = ResponseKeys({"start_date": "2024-11-25", "end_date": "2024-12-01", "seed": 1})
    attributes = ("25-34", "50k-75k", "good", "verified", "stable", "CA")
    ids = [f"cust_{n:06d}" for n in range(KEY_CACHE_SIZE * 3)]
    first = [keys.keys_of(customer_id, attributes) for customer_id in ids]
    assert len(keys._latest) <= KEY_CACHE_SIZE
    again = [keys.keys_of(customer_id, attributes) for customer_id in ids]
    expected = []
    for customer_id in ids:
        customer_key = keys.customer_key(customer_id)
        expected.append((customer_key, keys.profile_key(customer_key, attributes)))
    assert first == again == expected
    redrawn = (*attributes[:-1], "TX")
    assert keys.keys_of(ids[0], redrawn)[1] != first[0][1]


def seed_design_profile(**volume_profile) -> VolumeProfile:
    """The volume profile the setting's defaults make (the seed design)."""
    config = {"start_date": "2024-11-25", "volume_profile": volume_profile}
    return parse_settings(config).volume_profile


def test_volume_profile_is_deterministic_and_within_the_day_type_range():
    profile = seed_design_profile()
    assert profile.day_type(D(2024, 11, 28)) == "holiday"
    assert profile.day_type(D(2024, 11, 30)) == "weekend"
    assert profile.day_type(D(2024, 11, 26)) == "weekday"
    volumes = [profile.volume(D(2024, 1, 1) + dt.timedelta(n), 42) for n in range(366)]
    assert volumes == [profile.volume(D(2024, 1, 1) + dt.timedelta(n), 42) for n in range(366)]
    for n, volume in enumerate(volumes):
        day = D(2024, 1, 1) + dt.timedelta(n)
        band = getattr(profile, profile.day_type(day))
        assert band.low <= volume <= band.high
    assert len(set(volumes)) > 100, "volumes vary across the range"
    assert VolumeRange(5, 5).pick(0.999) == 5
    assert seed_design_profile(country="GB").day_type(D(2024, 12, 26)) == "holiday"


def good_record(**changes) -> dict:
    record = {
        "transaction_id": "txn_00000007",
        "customer_id": "cust_000003",
        "product_id": "prod_000001",
        "device_id": "cust_000003_device_1",
        "payment_method_id": "cust_000003_pm_1",
        "amount": 100,
        "currency": "USD",
        "status": "completed",
        "risk_scenario": "credit_stretched",
        "risk_score": 0.4,
        "risk_level": "medium",
        "installment_count": 4.0,
        "first_payment_amount": 25.0,
        "payment_frequency": "bi_weekly",
        "purchase_context": "normal",
        "checkout_speed": "normal",
        "cart_abandonment_count": 0,
        "price_comparison_time": 30,
        "time_on_site_seconds": 100,
        "credit_utilization": 0.5,
        "economic_stress_factor": 0.0,
        "will_default": True,
        "days_to_first_missed_payment": 30,
        "customer_age_bracket": "25-34",
        "customer_tenure_days": 10,
        "customer_income_bracket": "50k-75k",
        "customer_credit_score_range": "good",
        "customer_verification_level": "verified",
        "customer_address_stability": "stable",
        "customer_state": "CA",
        "product_category": "home",
        "product_subcategory": "decor",
        "product_brand": "IKEA",
        "product_price": 100,
        "product_bnpl_eligible": True,
        "product_risk_category": "low",
        "device_type": "mobile",
        "device_os": "iOS",
        "device_is_trusted": False,
        "payment_provider": "affirm",
        "payment_type": "bnpl_account",
        "payment_credit_limit": 1000,
        "_timestamp": "2024-11-25T23:59:59",
        "_record_id": 7,
        "_generator": "BNPLGenerator",
    }
    record.update(changes)
    return {k: v for k, v in record.items() if v is not ...}


def parse(record: dict | str) -> Parsed | Rejected | None:
    text = record if isinstance(record, str) else "data: " + json.dumps(record)
    return LineParser().parse(text.encode())


def test_a_good_line_is_typed_and_its_timestamp_gets_a_zone():
    result = parse(good_record())
    assert isinstance(result, Parsed)
    assert result.day == D(2024, 11, 25)
    assert result.record_id == 7
    assert result.record._timestamp == "2024-11-25T23:59:59+00:00"
    assert result.record.installment_count == 4 and type(result.record.installment_count) is int
    assert parse(good_record(credit_utilization=...)).record.credit_utilization is None
    zoned = parse(good_record(_timestamp="2024-11-25T23:30:00-02:00"))
    assert zoned.record._timestamp == "2024-11-26T01:30:00+00:00" and zoned.day == D(2024, 11, 26)
    assert parse("") is None
    assert isinstance(parse("data:" + json.dumps(good_record())), Parsed)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("data: {oops", "invalid JSON:"),
        ("event: ping", "not a 'data:' line"),
        ("data: [1, 2]", "record is not a JSON object: [1, 2]"),
        (good_record(transaction_id=...), "missing transaction_id"),
        (good_record(transaction_id=""), "missing transaction_id"),
        (good_record(customer_id=None), "missing customer_id"),
        (good_record(_timestamp=...), "missing _timestamp"),
        (good_record(_timestamp="yesterday"), "invalid _timestamp: 'yesterday'"),
        (good_record(_timestamp="2024-11-25"), "invalid _timestamp: '2024-11-25'"),
        (good_record(_record_id=...), "missing _record_id"),
        (good_record(amount="abc"), "amount is not numeric: 'abc'"),
        (good_record(amount=True), "amount is not numeric: True"),
        (good_record(amount=...), "missing amount"),
        (good_record(installment_count=2.5), "installment_count is not an integer: 2.5"),
        (good_record(will_default="no"), "will_default is not a boolean: 'no'"),
        (good_record(customer_state=7), "customer_state is not a string: 7"),
        (good_record(device_type=...), "missing device_type"),
    ],
)
def test_bad_lines_get_a_one_line_reason(line, reason):
    result = parse(line)
    assert isinstance(result, Rejected)
    assert result.reason.startswith(reason)
    assert "\n" not in result.reason


def test_a_rejected_record_keeps_its_day_and_record_id():
    result = parse(good_record(amount="n/a"))
    assert (result.day, result.record_id) == (D(2024, 11, 25), 7)


def test_unknown_fields_are_noted_and_kept_as_sorted_json():
    parser = LineParser()
    result = parser.parse(("data: " + json.dumps(good_record(zeta=[1], new_field="a"))).encode())
    assert parser.unknown_fields == {"new_field", "zeta"}
    assert isinstance(result, Parsed)
    assert result.record.extra_fields == '{"new_field":"a","zeta":[1]}'
    assert not hasattr(result.record, "new_field") and not hasattr(result.record, "zeta")
    assert parse(good_record()).record.extra_fields is None
    # A field named like one the tap adds is simtom's, kept apart from the tap's own.
    clash = parser.parse(("data: " + json.dumps(good_record(transaction_key="x"))).encode())
    assert clash.record.extra_fields == '{"transaction_key":"x"}'
    assert clash.record.transaction_key is msgspec.UNSET


def test_max_rejected_share_is_a_share_from_0_to_1():
    base = {"start_date": "2024-11-25"}
    assert parse_settings(base).max_rejected_share == 0.01
    assert parse_settings({**base, "max_rejected_share": "0.5"}).max_rejected_share == 0.5
    assert parse_settings({**base, "max_rejected_share": Decimal("1")}).max_rejected_share == 1.0
    assert parse_settings({**base, "max_rejected_share": 0}).max_rejected_share == 0.0
    for bad in (1.5, -0.1, "lots", True, "nan", "1.5", None):
        with pytest.raises(SettingsError, match=r"^max_rejected_share: expected a number from 0"):
            parse_settings({**base, "max_rejected_share": bad})


def test_settings_defaults_and_conversions():
    settings = parse_settings({"start_date": "2024-11-25"}, today=D(2024, 12, 2))
    assert settings.start_date == D(2024, 11, 25)
    assert settings.end_date == D(2024, 12, 1)
    assert settings.seed == 42 and settings.base_daily_volume == 5000
    assert settings.window_days == 7 and settings.max_parallel_requests == 1
    assert settings.api_url == "https://simtom-production.up.railway.app"
    assert settings.volume_profile is None and settings.effective_window_days == 7
    decimals = parse_settings({"start_date": "2024-11-25", "request_timeout": Decimal("2.5")})
    assert decimals.request_timeout == 2.5
    profiled = parse_settings({"start_date": "2024-11-25", "volume_profile": {}})
    assert profiled.volume_profile == VolumeProfile(
        weekday=VolumeRange(5000, 7000),
        weekend=VolumeRange(3000, 4000),
        holiday=VolumeRange(8000, 10000),
        country="US",
        subdivision=None,
    )
    assert profiled.effective_window_days == 1
    assert parse_settings({"start_date": "2024-11-25", "seed": None}).seed is None


def test_default_end_date_before_start_names_the_default():
    with pytest.raises(SettingsError, match="default: yesterday UTC"):
        parse_settings({"start_date": "2024-11-25"}, today=D(2024, 11, 25))


def test_bookmarks_take_the_earliest_selected_stream_and_never_move_back():
    state = {
        "bookmarks": {
            "transactions": {"replication_key_value": "2024-11-28"},
            "customers": {"replication_key_value": "2024-11-27T00:00:00+00:00"},
            "other_stream": {"replication_key_value": "keep me"},
        }
    }
    bookmarks = DayBookmarks(state, REPLICATION_KEYS, ["transactions", "customers"])
    assert bookmarks.done_through() == D(2024, 11, 27)
    value = bookmarks.advance(D(2024, 11, 28))
    assert value["bookmarks"]["customers"]["replication_key_value"] == "2024-11-28"
    assert value["bookmarks"]["other_stream"] == {"replication_key_value": "keep me"}
    assert "extraction_log" not in value["bookmarks"]
    back = bookmarks.advance(D(2024, 11, 20))
    assert back["bookmarks"]["transactions"]["replication_key_value"] == "2024-11-28"
    other = DayBookmarks(state, REPLICATION_KEYS, ["transactions", "quarantine"])
    assert other.done_through() is None


def test_retry_after_and_backoff():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("soon") is None
    rng = random.Random(1)
    delays = [backoff_delay(n, 1.0, 60.0, None, rng) for n in range(1, 10)]
    for n, delay in enumerate(delays, start=1):
        ceiling = min(60.0, 2 ** (n - 1))
        assert ceiling / 2 <= delay <= ceiling
    assert backoff_delay(1, 1.0, 60.0, 30.0, rng) >= 30.0


def test_server_messages_are_one_line():
    pydantic = json.dumps(
        {"detail": [{"loc": ["body", "base_daily_volume"], "msg": "Input should be >= 1"}]}
    ).encode()
    assert server_message(pydantic) == "base_daily_volume: Input should be >= 1"
    assert server_message(b'{"detail":"Unknown generator: x"}') == "Unknown generator: x"
    assert (
        server_message(b"<html>\n<b>Bad\nGateway</b></html>") == "<html> <b>Bad Gateway</b></html>"
    )
    assert len(server_message(b"x" * 1000)) == 300


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"transaction_id": ""}, "missing transaction_id"),
        ({"customer_id": ""}, "missing customer_id"),
        ({"_timestamp": ""}, "missing _timestamp"),
        ({"_timestamp": "2024-11-25T25:00:00"}, "invalid _timestamp: '2024-11-25T25:00:00'"),
        ({"_record_id": -1}, "_record_id is negative: -1"),
    ],
)
def test_a_record_of_the_right_types_still_gets_its_values_checked(changes, reason):
    # Every type right (the decoder's fast path takes it): only the values are wrong.
    parser = LineParser()
    good = good_record(installment_count=4)
    assert isinstance(parser.parse(("data: " + json.dumps(good)).encode()), Parsed)
    result = parser.parse(("data: " + json.dumps({**good, **changes})).encode())
    assert isinstance(result, Rejected)
    assert result.reason == reason


def test_the_fast_path_gives_the_records_of_the_full_check():
    parser = LineParser()
    variants = [
        good_record(installment_count=4),
        good_record(installment_count=4, credit_utilization=...),
        good_record(installment_count=4, days_to_first_missed_payment=None, will_default=False),
        good_record(installment_count=4.0),  # integral float: only the full check takes it
        good_record(installment_count=4, new_field=1),  # unknown field: the full check
        good_record(installment_count=4, amount=99.5),
    ]
    for record in variants * 2:
        result = parser.parse(("data: " + json.dumps(record)).encode())
        full = LineParser()._validate(json.loads(json.dumps(record)))
        assert isinstance(result, Parsed) and isinstance(full, Parsed)
        assert (result.record, result.day, result.record_id) == (
            full.record,
            full.day,
            full.record_id,
        )
