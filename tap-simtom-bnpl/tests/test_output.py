"""One record path, two output modes: what a response's records become on the way out.

A response is read by the real `ResponseReader` and its days written by the writer as
RECORD lines and as BATCH file lines; both must hold the same records, of the streams'
schemas, with the tap's fields right, whether a day's records were collected as structs
(stream maps need them) or encoded as they came (records going out as they are).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging

import pytest
from test_units import good_record

from tap_simtom_bnpl.extract import RunContext
from tap_simtom_bnpl.records import CustomerRecord, TransactionRecord
from tap_simtom_bnpl.response import ResponseReader
from tap_simtom_bnpl.streams import CUSTOMERS_SCHEMA, TRANSACTIONS_SCHEMA
from tap_simtom_bnpl.windows import Window
from tap_simtom_bnpl.writer import EncodedRecords, as_dicts, json_lines, record_lines

D = dt.date
NOW = dt.datetime(2024, 11, 28, tzinfo=dt.timezone.utc)


class _Settings:
    seed, base_daily_volume, volume_profile, display_url = 7, 100, None, "http://x"


def _line(record_id: int, day: int, customer: str, **changes) -> bytes:
    fields = {
        "_record_id": record_id,
        "_timestamp": f"2024-11-{day}T10:{record_id:02d}:00",
        "customer_id": customer,
        "installment_count": 4,
    }
    return ("data: " + json.dumps(good_record(**{**fields, **changes}))).encode()


LINES = [
    _line(0, 25, "c1"),
    _line(1, 25, "c2", credit_utilization=None, amount=12.5, risk_score=1e-7),
    _line(2, 25, "c1"),
    _line(3, 26, "c1"),  # first met on a skipped day, emitted on its first kept day
    _line(4, 26, "c1", customer_state="NY"),  # re-drawn: a new profile
    _line(5, 26, "c1", customer_state="CA"),  # back to the first profile
    b"data: {not json",
    _line(6, 26, "c3", product_brand='Caf\u00e9 "\u2028"', device_os="\x01"),
    _line(8, 26, "c2", installment_count=4.0),  # only the full check takes it
    _line(7, 26, "c2"),  # out of sequence: quarantined
    _line(9, 27, "c2", _timestamp="2024-11-27T01:00:00Z"),
    _line(10, 27, "c4", days_to_first_missed_payment=...),
    _line(11, 27, "c4", merchant_tier="gold"),  # an unknown field: the full check
]


def _days(skip_through: dt.date | None, new_records: type) -> list:
    ctx = RunContext("run-1", _Settings(), None, logging.getLogger("test"), new_records=new_records)
    body = {"start_date": "2024-11-25", "end_date": "2024-11-27", "base_daily_volume": 100}
    window = Window(D(2024, 11, 25), D(2024, 11, 27))
    reader = ResponseReader(ctx, window, {**body, "seed": 7}, 1, skip_through, "2024-11-28T00Z")
    batches = []
    for line in LINES:
        batches += reader.feed(line)
    return batches + reader.finish_through_end()


def _record_mode(stream: str, records: list) -> list[dict]:
    text = b"".join(record_lines(stream, records, NOW, 3)).decode()
    # Not splitlines(): it would also split at the U+2028 inside a record's JSON.
    messages = [json.loads(line) for line in text.split("\n") if line]
    for message in messages:
        assert (message["type"], message["stream"], message["version"]) == ("RECORD", stream, 3)
        assert message["time_extracted"] == "2024-11-28T00:00:00+00:00"
    return [m["record"] for m in messages]


def _batch_mode(records: list) -> list[dict]:
    text = b"".join(json_lines(records)).decode()
    return [json.loads(line) for line in text.split("\n") if line]


def _output(skip_through: dt.date | None, new_records: type) -> tuple[list, list]:
    transactions, customers = [], []
    for batch in _days(skip_through, new_records):
        for part, out in ((batch.transactions, transactions), (batch.customers, customers)):
            in_record_mode = _record_mode("s", part)
            assert in_record_mode == _batch_mode(part)
            if new_records is list:  # what stream maps are given
                assert in_record_mode == json.loads(json.dumps(as_dicts(part)))
            out += in_record_mode
    return transactions, customers


@pytest.mark.parametrize("skip_through", [None, D(2024, 11, 25)])
def test_records_are_the_same_in_record_and_batch_mode(skip_through):
    transactions, customers = _output(skip_through, list)
    assert _output(skip_through, EncodedRecords) == (transactions, customers)
    assert len(transactions) == (11 if skip_through is None else 8)
    assert [t["extra_fields"] for t in transactions].count(None) == len(transactions) - 1
    assert transactions[-1]["extra_fields"] == '{"merchant_tier":"gold"}'
    by_id = {t["_record_id"]: t for t in transactions}
    assert by_id[8]["transaction_key"] == "20241126-000005"  # 6th of its day
    assert by_id[9]["_timestamp"] == "2024-11-27T01:00:00+00:00"
    assert by_id[9]["transaction_date"] == "2024-11-27"
    assert by_id[6]["product_brand"] == 'Caf\u00e9 "\u2028"' and by_id[6]["device_os"] == "\x01"
    if skip_through is None:
        assert by_id[1]["credit_utilization"] is None and by_id[1]["risk_score"] == 1e-7
    else:
        assert min(by_id) == 3
    assert by_id[10]["days_to_first_missed_payment"] is None
    assert {t["window_start"] for t in transactions} == {"2024-11-25"}
    assert {t["extraction_run_id"] for t in transactions} == {"run-1"}
    # A customer profile is emitted once, before (or with) the first kept transaction.
    profiles = [c["customer_profile_key"] for c in customers]
    assert len(profiles) == len(set(profiles))
    assert {t["customer_profile_key"] for t in transactions} == set(profiles)
    first_c1 = next(c for c in customers if c["customer_id"] == "c1")
    # With the first day skipped, c1's profile still dates from its first transaction.
    assert first_c1["first_seen_at"] == "2024-11-25T10:00:00+00:00"
    assert first_c1["first_seen_date"] == "2024-11-25"


def test_records_kept_in_a_file_come_back_whole_in_both_modes(monkeypatch, tmp_path):
    # A buffer sealed after (nearly) every record: the day's lines go through the file.
    monkeypatch.setattr(EncodedRecords, "PACK_BYTES", 64)
    in_memory = _output(None, list)
    assert _output(None, functools.partial(EncodedRecords, tmp_path)) == in_memory
    records = EncodedRecords(tmp_path)
    for batch in _days(None, list):
        for record in batch.transactions:
            records.append(record)
    assert records._file is not None and len(records._sealed) > 1
    assert list(tmp_path.iterdir()) == []  # unnamed: nothing to clean up


def test_records_have_the_fields_of_their_stream_schema():
    for struct, schema in (
        (TransactionRecord, TRANSACTIONS_SCHEMA),
        (CustomerRecord, CUSTOMERS_SCHEMA),
    ):
        assert set(struct.__struct_fields__) == set(schema["properties"])
