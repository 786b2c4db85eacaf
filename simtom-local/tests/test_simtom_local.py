"""The local simtom server, over real HTTP on loopback, against the real server's captures."""

from __future__ import annotations

import csv
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import requests

from simtom_local import Faults, SimtomServer
from simtom_local import domains as simtom_domains

# Responses recorded from a real simtom server (the wire sample: base 40, seed 7): the
# local server is held to their shape, byte for byte where simtom is deterministic.
CAPTURES = Path(__file__).resolve().parent / "captures"
WEEK = {"start_date": "2024-11-25", "end_date": "2024-12-01", "base_daily_volume": 60, "seed": 42}


def capture_records() -> list[dict]:
    root = CAPTURES
    records = [json.loads(line) for line in (root / "sample-records.jsonl").open()]
    wire = (root / "wire-sample.txt").read_text()
    records += [json.loads(line[6:]) for line in wire.split("\n\n") if line]
    return records


@pytest.fixture(scope="module")
def server():
    with SimtomServer() as srv:
        yield srv


@pytest.fixture
def fresh():
    with SimtomServer() as srv:
        yield srv


def post(srv: SimtomServer, body, **kwargs) -> requests.Response:
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return requests.post(f"{srv.url}/stream/bnpl", data=data, timeout=30, **kwargs)


def records_of(response: requests.Response) -> list[dict]:
    assert response.status_code == 200, response.text
    return [json.loads(line[6:]) for line in response.text.split("\n\n") if line]


def by_day(records: list[dict]) -> dict[str, list[dict]]:
    days: dict[str, list[dict]] = defaultdict(list)
    for record in records:
        days[record["_timestamp"][:10]].append(record)
    return days


# --- endpoints and wire format ------------------------------------------------------------


def test_health_and_generators_match_the_captures(server):
    health = requests.get(f"{server.url}/", timeout=5)
    assert health.json() == {"status": "healthy", "version": "0.1.0", "generators_available": 1}
    generators = requests.get(f"{server.url}/generators", timeout=5)
    assert generators.status_code == 200
    assert generators.content == (CAPTURES / "generators.json").read_bytes()


def test_wire_framing_is_the_captured_one(server):
    body = json.dumps({**WEEK, "start_date": "2024-12-24", "end_date": "2024-12-26"}).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            b"POST /stream/bnpl HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    head, _, chunked = raw.partition(b"\r\n\r\n")
    headers = head.decode().lower()
    assert headers.startswith("http/1.1 200")
    assert "content-type: text/plain; charset=utf-8" in headers
    assert "transfer-encoding: chunked" in headers
    assert chunked.endswith(b"\r\n0\r\n\r\n")
    payload, rest = b"", chunked
    while True:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        payload, rest = payload + rest[:size], rest[size + 2 :]

    capture = (CAPTURES / "wire-sample.txt").read_text()
    for text in (payload.decode(), capture):
        assert text.startswith("data: {") and text.endswith("}\n\n")
        lines = text.split("\n")
        assert all(line.startswith("data: {") for line in lines[0::2] if line)
        assert all(line == "" for line in lines[1::2])
        # The serialisation is json.dumps with default separators, key for key.
        for line in lines[0::2]:
            if line:
                assert json.dumps(json.loads(line[6:])) == line[6:]
    ours = [json.loads(line[6:]) for line in payload.decode().split("\n\n") if line]
    theirs = [json.loads(line) for line in (CAPTURES / "sample-records.jsonl").open()]
    key_sets = {frozenset(record) for record in theirs}
    assert {frozenset(record) for record in ours} == key_sets
    assert {len(keys) for keys in key_sets} == {44, 45}


# --- validation -----------------------------------------------------------------------------


def captured_errors() -> list[tuple[dict, int]]:
    out = []
    for line in (CAPTURES / "error-samples.txt").read_text().splitlines():
        body, _, status = line.rpartition(" HTTP ")
        out.append((json.loads(body), int(status)))
    return out


@pytest.mark.parametrize(
    ("index", "body"),
    [
        (0, '{"start_date": "2024-12-24", "end_date": "2024-12-20"}'),
        (1, '{"start_date": "2024-05-01", "end_date": "2025-06-01"}'),
        (2, "{'start_date': '2024-12-24'}"),
        (3, '{"base_daily_volume": 0}'),
    ],
)
def test_validation_errors_match_the_captures(server, index, body):
    expected, status = captured_errors()[index]
    response = post(server, body)
    assert response.status_code == status == 422
    assert response.headers["content-type"] == "application/json"
    assert response.json() == expected


def test_unknown_generator_and_wrong_method(server):
    expected, status = captured_errors()[4]
    response = requests.post(f"{server.url}/stream/nosuch", json=WEEK, timeout=5)
    assert (response.status_code, response.json()) == (status, expected)
    response = requests.get(f"{server.url}/stream/bnpl", timeout=5)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


def test_wrong_types_and_ranges_name_the_field(server):
    body = {"seed": "abc", "base_daily_volume": 2.5, "rate_per_second": 5000, "noise_type": "x"}
    detail = post(server, body).json()["detail"]
    assert {tuple(error["loc"]): error["type"] for error in detail} == {
        ("body", "seed"): "int_parsing",
        ("body", "base_daily_volume"): "int_from_float",
        ("body", "rate_per_second"): "less_than_equal",
        ("body", "noise_type"): "enum",
    }
    assert post(server, {"start_date": "2024-02-30"}).json()["detail"][0]["loc"] == [
        "body",
        "start_date",
    ]
    assert post(server, {**WEEK, "end_date": "2025-11-25"}).status_code == 200  # 365 days: ok


def test_unknown_fields_are_ignored(server):
    plain = post(server, {**WEEK, "end_date": "2024-11-25"}).content
    extra = post(server, {**WEEK, "end_date": "2024-11-25", "favourite_colour": "teal"}).content
    assert plain == extra


# --- determinism ----------------------------------------------------------------------------


def test_a_days_count_and_timestamps_survive_other_windows(server):
    week = by_day(records_of(post(server, WEEK)))
    shifted = by_day(
        records_of(post(server, {**WEEK, "start_date": "2024-11-28", "end_date": "2024-12-05"}))
    )
    alone = by_day(
        records_of(post(server, {**WEEK, "start_date": "2024-11-29", "end_date": "2024-11-29"}))
    )
    assert sorted(week) == [f"2024-11-{d}" for d in range(25, 31)] + ["2024-12-01"]
    for day in ("2024-11-28", "2024-11-29", "2024-11-30", "2024-12-01"):
        assert len(week[day]) == len(shifted[day])
        assert [r["_timestamp"] for r in week[day]] == [r["_timestamp"] for r in shifted[day]]
    assert len(alone["2024-11-29"]) == len(week["2024-11-29"])
    # Contents depend on the whole request: the clipped window gets other records.
    fields = ("customer_id", "amount", "risk_scenario", "product_id")
    assert [tuple(r[f] for f in fields) for r in week["2024-11-29"]] != [
        tuple(r[f] for f in fields) for r in alone["2024-11-29"]
    ]
    # The calendar: Thanksgiving is quiet, Black Friday is the busiest day of the week.
    counts = {day: len(rows) for day, rows in week.items()}
    assert counts["2024-11-28"] < min(c for d, c in counts.items() if d != "2024-11-28")
    assert counts["2024-11-29"] == max(counts.values())


def test_seeded_body_alone_is_byte_identical_and_unseeded_is_random(server):
    assert post(server, WEEK).content == post(server, WEEK).content
    other_seed = post(server, {**WEEK, "seed": 43}).content
    assert other_seed != post(server, WEEK).content
    unseeded = {k: v for k, v in WEEK.items() if k != "seed"}
    first, second = records_of(post(server, unseeded)), records_of(post(server, unseeded))
    assert [r["amount"] for r in first] != [r["amount"] for r in second]


# --- record contents ------------------------------------------------------------------------


SEED = Path(__file__).resolve().parents[2] / "transform" / "seeds" / "simtom_allowed_values.csv"


def test_every_enumerated_value_the_server_emits_is_in_the_seed(server):
    # The seed is the one home of simtom's value sets (dbt tests against it too).
    seeded: dict[str, set[str]] = defaultdict(set)
    with SEED.open(newline="") as f:
        for row in csv.DictReader(f):
            seeded[row["field"]].add(row["value"])
    enumerated = [
        "currency", "status", "risk_scenario", "risk_level", "installment_count",
        "payment_frequency", "purchase_context", "checkout_speed", "customer_age_bracket",
        "customer_income_bracket", "customer_credit_score_range", "customer_verification_level",
        "customer_address_stability", "product_category", "product_subcategory",
        "product_brand", "product_risk_category", "device_type", "device_os",
        "payment_provider", "payment_type", "payment_credit_limit", "_generator",
    ]  # fmt: skip
    assert set(seeded) == set(enumerated)
    records = records_of(post(server, {**WEEK, "base_daily_volume": 600}))
    assert len(records) > 3000
    for field in enumerated:
        emitted = {str(r[field]) for r in records}
        assert emitted <= seeded[field], (field, emitted - seeded[field])


def test_a_weighted_value_the_seed_does_not_list_is_refused():
    with pytest.raises(ValueError, match=r"^device_os: 'BeOS' is not in simtom_allowed_values"):
        simtom_domains.weighted("device_os", {"iOS": 1, "BeOS": 1})
    assert set(simtom_domains.weighted("device_os", {"iOS": 1, "Linux": 3})) == {"iOS", "Linux"}


def test_records_follow_the_business_rules(server):
    body = {**WEEK, "base_daily_volume": 600}
    records = records_of(post(server, body))
    captured = capture_records()
    assert len(records) > 3000
    categorical = [
        "currency", "status", "risk_scenario", "risk_level", "installment_count",
        "payment_frequency", "purchase_context", "checkout_speed", "cart_abandonment_count",
        "customer_age_bracket", "customer_income_bracket", "customer_credit_score_range",
        "customer_verification_level", "customer_address_stability", "product_category",
        "product_subcategory", "product_brand", "product_risk_category", "device_type",
        "device_os", "payment_provider", "payment_type", "payment_credit_limit", "_generator",
    ]  # fmt: skip
    for field in categorical:
        ours = {r[field] for r in records}
        theirs = {r[field] for r in captured}
        allowed = theirs | ({"very_high"} if field == "risk_level" else set())
        assert ours <= allowed, field
    assert {r["customer_state"] for r in records} <= set(simtom_domains.STATE_CODES)
    for index, r in enumerate(records):
        assert r["_record_id"] == index
        assert r["transaction_id"] == f"txn_{index:08d}"
        assert r["amount"] == r["product_price"]
        assert r["first_payment_amount"] == round(r["amount"] * 0.25, 2)
        assert 0 < r["risk_score"] < 1
        assert r["risk_level"] == simtom_domains.risk_level(r["risk_score"])
        assert ("credit_utilization" in r) == (r["risk_scenario"] == "credit_stretched")
        if r["will_default"]:
            missed = r["days_to_first_missed_payment"]
            assert missed % 14 == 0 and 14 <= missed < 14 * r["installment_count"]
        else:
            assert r["days_to_first_missed_payment"] is None
        assert r["device_id"].startswith(r["customer_id"] + "_device_")
        assert r["payment_method_id"].startswith(r["customer_id"] + "_pm_")
        assert len(r["_timestamp"]) == 19 and r["_timestamp"][10] == "T"
    stamps = [r["_timestamp"] for r in records]
    assert stamps == sorted(stamps)
    default_rate = sum(r["will_default"] for r in records) / len(records)
    assert 0.01 < default_rate < 0.08
    mix = Counter(r["risk_scenario"] for r in records)
    assert 0.55 < mix["low_risk_purchase"] / len(records) < 0.65
    assert 0.02 < mix["high_risk_behavior"] / len(records) < 0.08
    assert {"low", "medium", "high"} <= {r["risk_level"] for r in records}


def test_customers_are_numbered_by_appearance_and_stable_while_remembered(server):
    records = records_of(post(server, WEEK))
    first_seen = list(dict.fromkeys(r["customer_id"] for r in records))
    assert first_seen == [f"cust_{n:06d}" for n in range(1, len(first_seen) + 1)]
    profile_fields = [f for f in records[0] if f.startswith("customer_") and f != "customer_id"]
    profiles = defaultdict(set)
    days = defaultdict(set)
    for r in records:
        profiles[r["customer_id"]].add(tuple(r[f] for f in profile_fields))
        days[r["customer_id"]].add(r["_timestamp"][:10])
    assert all(len(p) == 1 for p in profiles.values())  # tenure does not grow with _timestamp
    assert any(len(d) > 1 for d in days.values())  # customers come back on later days


def test_forgotten_customers_come_back_with_new_attributes(server, monkeypatch):
    monkeypatch.setattr(simtom_domains, "CUSTOMER_MEMORY", 20)
    records = records_of(post(server, WEEK))
    profile_fields = [f for f in records[0] if f.startswith("customer_") and f != "customer_id"]
    profiles = defaultdict(set)
    for r in records:
        profiles[r["customer_id"]].add(tuple(r[f] for f in profile_fields))
    assert any(len(p) > 1 for p in profiles.values())


def test_current_date_mode_streams_max_records_at_the_rate(server):
    started = time.time()
    records = records_of(post(server, {"max_records": 5, "rate_per_second": 20, "seed": 1}))
    assert [r["_record_id"] for r in records] == [0, 1, 2, 3, 4]
    stamps = {r["_timestamp"][:10] for r in records}
    assert stamps <= {time.strftime("%Y-%m-%d", time.gmtime(t)) for t in (started, time.time())}
    assert time.time() - started >= 4 / 20  # 5 records at 20/s: the last one is due at 0.2 s


# --- pacing and concurrency -----------------------------------------------------------------


def arrivals(response: requests.Response) -> list[tuple[float, str]]:
    """(arrival time, day) per record; records of one received piece share its time."""
    out, pending = [], b""
    for piece in response.iter_content(chunk_size=None):
        now = time.monotonic()
        *lines, pending = (pending + piece).split(b"\n\n")
        out += [(now, json.loads(line[6:])["_timestamp"][:10]) for line in lines]
    out.append((time.monotonic(), "end"))
    return out


def test_pacing_pauses_between_days_only():
    pace = 0.5
    with SimtomServer(pace_seconds=pace) as srv:
        body = {
            **WEEK,
            "start_date": "2024-12-02",
            "end_date": "2024-12-04",
            "base_daily_volume": 5,
        }
        seen = arrivals(post(srv, body, stream=True))
    gaps = defaultdict(list)
    for (t0, d0), (t1, d1) in itertools.pairwise(seen):
        gaps["within" if d0 == d1 else "between" if d1 != "end" else "end"].append(t1 - t0)
    assert len(gaps["between"]) == 2 and min(gaps["between"]) >= pace * 0.8
    assert max(gaps["within"]) < pace / 2
    assert gaps["end"][0] < pace / 2


def test_concurrent_requests_interleave_by_day_and_both_complete():
    with SimtomServer(pace_seconds=0.3) as srv:
        body = {**WEEK, "end_date": "2024-11-27"}
        alone = records_of(post(srv, body))
        results: dict[int, list[dict]] = {}

        def fetch(slot: int) -> None:
            results[slot] = records_of(post(srv, body))

        threads = [threading.Thread(target=fetch, args=(slot,)) for slot in (0, 1)]
        for thread in threads:
            thread.start()
            time.sleep(0.05)
        for thread in threads:
            thread.join(30)
        log = [(request, day) for request, day, _ in srv.batch_log if request > 0]
    assert len(results) == 2
    assert [request for request, _ in log] == [1, 2, 1, 2, 1, 2]
    for records in results.values():
        counts = {d: len(rows) for d, rows in by_day(records).items()}
        assert counts == {d: len(rows) for d, rows in by_day(alone).items()}
        assert [r["_timestamp"] for r in records] == [r["_timestamp"] for r in alone]
    # Shared random state: concurrent requests re-draw contents, even for identical bodies.
    assert results[0] != alone or results[1] != alone
    assert [r["amount"] for r in results[1]] != [r["amount"] for r in alone]


def concurrent_fetch(srv: SimtomServer, bodies: list[dict]) -> list[list[dict]]:
    """Post every body at once, one client thread each; the records of each response."""
    results: dict[int, list[dict]] = {}

    def fetch(slot: int) -> None:
        results[slot] = records_of(post(srv, bodies[slot]))

    threads = [threading.Thread(target=fetch, args=(slot,)) for slot in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return [results[slot] for slot in range(len(bodies))]


def test_the_records_per_second_rate_is_shared_by_concurrent_requests():
    rate = 4000.0
    with SimtomServer(pace_seconds=0.05, records_per_second=rate) as srv:
        bodies = [
            {**WEEK, "end_date": "2024-11-27", "base_daily_volume": 200, "seed": seed}
            for seed in (1, 2)
        ]
        responses = concurrent_fetch(srv, bodies)
        spans = srv.generation_spans
    assert [len(by_day(records)) for records in responses] == [3, 3]
    assert len(spans) == 6 and {request for request, *_ in spans} == {0, 1}
    # Both requests were in flight together: their days interleave...
    order = [request for request, *_ in sorted(spans, key=lambda span: span[2])]
    assert order.index(1) < len(order) - order[::-1].index(0) - 1
    # ...yet one batch was generated at a time, each taking its records' share of the
    # rate: the two requests got the rate between them, not each.
    for (_, _, _, ended), (_, _, began, _) in itertools.pairwise(sorted(spans, key=lambda s: s[2])):
        assert began >= ended
    for _request, records, began, ended in spans:
        assert ended - began >= records / rate


@pytest.mark.parametrize("value", [0, -1, float("inf"), float("nan")])
def test_a_bad_records_per_second_names_the_setting(value):
    with pytest.raises(ValueError, match=r"^records_per_second: expected a number > 0"):
        SimtomServer(records_per_second=value)


@pytest.mark.parametrize("text", ["0", "-5", "inf", "fast"])
def test_a_bad_records_per_second_flag_gets_one_line_naming_it(text):
    completed = subprocess.run(
        [sys.executable, "-m", "simtom_local.cli", "--records-per-second", text],
        capture_output=True, text=True, timeout=30, check=False,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )  # fmt: skip
    assert completed.returncode == 2
    assert completed.stderr.splitlines() == [
        f"simtom-local: error: argument --records-per-second: expected records per second "
        f"> 0, got {text!r} (see --help)"
    ]


def test_a_client_hanging_up_stops_the_work():
    with SimtomServer(pace_seconds=0.3) as srv:
        body = {**WEEK, "start_date": "2024-01-01", "end_date": "2024-01-31"}
        response = post(srv, body, stream=True)
        next(response.iter_lines())
        response.close()
        time.sleep(1.0)
        batches = len(srv.batch_log)
        time.sleep(0.7)
        assert len(srv.batch_log) == batches < 31
        assert srv.engine.active == 0


# --- faults ---------------------------------------------------------------------------------


def test_fail_first_requests_with_status_and_retry_after(fresh):
    fresh.set_faults(Faults(fail_first=2, fail_status=429, retry_after=3))
    first, second, third = (post(fresh, WEEK) for _ in range(3))
    assert [first.status_code, second.status_code, third.status_code] == [429, 429, 200]
    assert first.headers["retry-after"] == "3"
    fresh.set_faults(Faults(fail_first=1))  # counters restart when faults are set
    failed = post(fresh, WEEK)
    assert failed.status_code == 500 and "retry-after" not in failed.headers
    assert post(fresh, WEEK).status_code == 200


@pytest.mark.parametrize("mid_line", [False, True])
def test_drop_after_n_records_breaks_the_body(fresh, mid_line):
    fresh.set_faults(Faults(drop_after=7, drop_requests=2, drop_mid_line=mid_line))
    for _ in range(2):
        received = b""
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            for chunk in post(fresh, WEEK, stream=True).iter_content(chunk_size=None):
                received += chunk
        complete, _, torn = received.decode().rpartition("\n\n")
        assert len(complete.split("\n\n")) == 7
        assert bool(torn) == mid_line
    assert len(records_of(post(fresh, WEEK))) > 7  # the third request is served whole


def test_malformed_lines_every_n_and_at_indexes(fresh):
    fresh.set_faults(Faults(malformed_every=10, malformed_at=[0, 4]))
    lines = [line for line in post(fresh, WEEK).text.split("\n\n") if line]
    fresh.set_faults(Faults())
    clean = records_of(post(fresh, WEEK))
    assert len(lines) == len(clean)
    broken = set()
    for index, line in enumerate(lines):
        assert line.startswith("data: ")
        try:
            json.loads(line[6:])
        except ValueError:
            broken.add(index)
    assert broken == {0, 4} | {i for i in range(len(lines)) if (i + 1) % 10 == 0}


def test_records_missing_fields_or_with_a_bad_amount(fresh):
    fresh.set_faults(
        Faults(
            missing_transaction_id_at=[1],
            missing_customer_id_at=[2],
            missing_timestamp_at=[3],
            non_numeric_amount_at=[4],
        )
    )
    records = records_of(post(fresh, WEEK))
    assert "transaction_id" not in records[1] and "customer_id" in records[1]
    assert "customer_id" not in records[2]
    assert "_timestamp" not in records[3]
    assert records[4]["amount"] == "n/a"
    assert all(isinstance(r["amount"], float) for i, r in enumerate(records) if i != 4)


def test_schema_drift_faults_change_every_record(fresh):
    clean = records_of(post(fresh, WEEK))
    answer = requests.post(
        f"{fresh.url}/_faults",
        json={
            "rename_field": {"amount": "amount_usd"},
            "add_field": {"merchant_tier": "gold"},
            "change_type": ["risk_score", "will_default"],
        },
        timeout=5,
    )
    assert answer.status_code == 200 and answer.json()["change_type"] == [
        "risk_score",
        "will_default",
    ]
    drifted = records_of(post(fresh, WEEK))
    assert len(drifted) == len(clean)
    for before, after in zip(clean, drifted, strict=True):
        assert "amount" not in after and after["amount_usd"] == before["amount"]
        assert after["merchant_tier"] == "gold"
        assert after["risk_score"] == json.dumps(before["risk_score"])
        assert after["will_default"] in ("true", "false")
        assert list(after).index("amount_usd") == list(before).index("amount")
    bad = requests.post(f"{fresh.url}/_faults", json={"change_type": "amount"}, timeout=5)
    assert bad.status_code == 422 and "change_type" in bad.json()["detail"]


def test_schema_drift_faults_from_the_command_line():
    from simtom_local.cli import build_parser, faults_from_args

    args = build_parser().parse_args(
        ["--rename-field", "amount=amount_usd", "--add-field", "merchant_tier=gold",
         "--add-field", "tier_rank=2", "--change-type", "amount,risk_score"]
    )  # fmt: skip
    faults = faults_from_args(args)
    assert faults.rename_field == {"amount": "amount_usd"}
    assert faults.add_field == {"merchant_tier": "gold", "tier_rank": 2}
    assert faults.change_type == ["amount", "risk_score"]
    assert faults.touches_lines


def test_stall_before_first_byte_provokes_a_timeout(fresh):
    fresh.set_faults(Faults(stall_seconds=1.5, stall_requests=1))
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.post(f"{fresh.url}/stream/bnpl", json=WEEK, timeout=0.4)
    assert post(fresh, WEEK).status_code == 200


def test_admin_endpoints_set_faults_and_list_requests(fresh):
    answer = requests.post(f"{fresh.url}/_faults", json={"fail_first": 1, "fail_status": 503})
    assert answer.status_code == 200 and answer.json()["fail_status"] == 503
    assert requests.get(f"{fresh.url}/_faults", timeout=5).json()["fail_first"] == 1
    assert post(fresh, WEEK).status_code == 503
    assert post(fresh, WEEK).status_code == 200
    bad = requests.post(f"{fresh.url}/_faults", json={"fail_frist": 1}, timeout=5)
    assert bad.status_code == 422 and "fail_frist" in bad.json()["detail"]
    assert requests.get(f"{fresh.url}/_requests", timeout=5).json() == [WEEK, WEEK]
    assert fresh.requests == [WEEK, WEEK]


def test_cli_serves_faults_writes_the_port_and_stops_on_sigterm(tmp_path):
    port_file = tmp_path / "port"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    process = subprocess.Popen(
        [sys.executable, "-m", "simtom_local.cli", "--port", "0",
         "--port-file", str(port_file), "--fail-first", "1", "--retry-after", "2",
         "--records-per-second", "100000"],
        stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not port_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        url = f"http://127.0.0.1:{int(port_file.read_text())}"
        failed = requests.post(f"{url}/stream/bnpl", json=WEEK, timeout=10)
        assert failed.status_code == 500 and failed.headers["retry-after"] == "2"
        assert requests.post(f"{url}/stream/bnpl", json=WEEK, timeout=10).status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)
    assert process.returncode == 0
    assert stderr.count('"POST /stream/bnpl"') == 2
    assert "2024-11-25..2024-12-01 records=" in stderr
    assert "100000 records/s" in stderr
