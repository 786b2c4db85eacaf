"""Rejected lines cannot pass silently, and schema drift loses nothing.

Against the local server's schema-drift faults over loopback: a renamed or retyped required
field fails its day with one line (exit 1, no STATE for the day, its quarantine rows still
emitted, the days before it bookmarked); a day whose rejected share exceeds
max_rejected_share fails, one at or under it passes; a day without transactions although
lines were sent fails whatever the share; a new field travels on in `extra_fields`.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

import pytest
from harness import bookmark_days, cli, error_lines, run_tap, simtom_config
from simtom_local import Faults

from tap_simtom_bnpl.rejections import RejectedDay

THREE_DAYS = {"end_date": "2024-11-27"}
RUN_FIELDS = {"extraction_run_id", "requested_at", "extra_fields"}


@pytest.fixture(scope="module")
def clean(simtom_server):
    """A clean RECORD run of 2024-11-25..27 (one request window)."""
    simtom_server.set_faults(Faults())
    return run_tap(simtom_config(simtom_server, **THREE_DAYS))


def per_day(clean) -> Counter:
    return Counter(t["transaction_date"] for t in clean.records("transactions"))


def record_ids_of(clean, day: str) -> list[int]:
    return [t["_record_id"] for t in clean.records("transactions") if t["transaction_date"] == day]


def test_a_renamed_required_field_fails_its_day_on_one_line_then_a_rerun_loads_it(
    simtom, clean, tmp_path
):
    config = simtom_config(simtom, **THREE_DAYS)
    after_first_day = clean.states[0]
    assert set(bookmark_days(after_first_day).values()) == {"2024-11-25"}
    lines = per_day(clean)["2024-11-26"]
    simtom.set_faults(Faults(rename_field={"amount": "amount_usd"}))

    failed = cli(tmp_path, config=config, state=after_first_day)

    assert failed.returncode == 1
    assert "Traceback" not in failed.stderr
    (error,) = error_lines(failed.stderr)
    assert error.endswith(
        f"2024-11-26: {lines} of {lines} lines rejected (100.0% > max_rejected_share 1.0%); "
        f"most common reason: missing amount ({lines})"
    )
    output = failed.output()
    # Only the incoming state is repeated: no STATE for the failing day.
    assert [set(bookmark_days(s).values()) for s in output.states] == [{"2024-11-25"}]
    for stream in ("transactions", "customers", "extraction_log"):
        assert output.records(stream) == [], stream
    quarantine = output.records("quarantine")
    assert len(quarantine) == lines
    assert {row["extraction_date"] for row in quarantine} == {"2024-11-26"}
    assert {row["reason"] for row in quarantine} == {"missing amount"}
    assert all('"amount_usd"' in row["raw_line"] for row in quarantine)

    # Cause fixed: a plain rerun from the same state extracts the day again.
    simtom.set_faults(Faults())
    rerun = run_tap(config, state=after_first_day)
    assert bookmark_days(rerun.final_state)["transactions"] == "2024-11-27"
    wanted = [k for k in clean.keys("transactions") if not k.startswith("20241125")]
    assert sorted(rerun.keys("transactions")) == sorted(wanted)


@pytest.mark.parametrize("mode", ["record", "batch"])
def test_days_before_a_failing_day_are_emitted_and_bookmarked(simtom, clean, tmp_path, mode):
    config = simtom_config(simtom, **THREE_DAYS)
    if mode == "batch":
        config["batch_config"] = {
            "encoding": {"format": "jsonl"},
            "storage": {"root": (tmp_path / "batches").as_uri()},
        }
    bad_ids = record_ids_of(clean, "2024-11-26")
    simtom.set_faults(Faults(non_numeric_amount_at=bad_ids))

    failed = cli(tmp_path, config=config)

    assert failed.returncode == 1
    (error,) = error_lines(failed.stderr)
    n = len(bad_ids)
    assert error.endswith(
        f"2024-11-26: {n} of {n} lines rejected (100.0% > max_rejected_share 1.0%); "
        f"most common reason: amount is not numeric ({n})"
    )
    output = failed.output()
    assert [bookmark_days(s)["transactions"] for s in output.states] == ["2024-11-25"]
    records = output.records if mode == "record" else batch_records(output)
    first_day = [k for k in clean.keys("transactions") if k.startswith("20241125")]
    assert sorted(k["transaction_key"] for k in records("transactions")) == sorted(first_day)
    assert [row["extraction_date"] for row in records("extraction_log")] == ["2024-11-25"]
    quarantine = records("quarantine")
    assert len(quarantine) == n
    assert {row["extraction_date"] for row in quarantine} == {"2024-11-26"}


def batch_records(output):
    """Records announced by the BATCH messages of a run, read from the files, by stream."""
    found: dict[str, list[dict]] = {}
    for message in output.messages:
        if message["type"] == "BATCH":
            for url in message["manifest"]:
                with Path(urlparse(url).path).open() as handle:
                    found.setdefault(message["stream"], []).extend(map(json.loads, handle))
    return lambda stream: found.get(stream, [])


def test_a_changed_type_fails_naming_the_field(simtom):
    simtom.set_faults(Faults(change_type=["amount"]))
    with pytest.raises(RejectedDay, match=r"^2024-11-25: .*most common reason: amount is not "):
        run_tap(simtom_config(simtom, end_date="2024-11-25"))


def test_a_rejected_share_just_above_the_threshold_fails_and_at_it_passes(simtom, clean):
    lines = per_day(clean)["2024-11-25"]
    config = simtom_config(simtom, end_date="2024-11-25")
    simtom.set_faults(Faults(malformed_at=[3], missing_customer_id_at=[10, 11]))
    share = 3 / lines

    passed = run_tap({**config, "max_rejected_share": share})
    assert len(passed.records("quarantine")) == 3
    assert bookmark_days(passed.final_state)["transactions"] == "2024-11-25"

    with pytest.raises(RejectedDay) as failed:
        run_tap({**config, "max_rejected_share": share - 0.0001})
    message = str(failed.value)
    assert message.startswith(f"2024-11-25: 3 of {lines} lines rejected (")
    assert message.endswith("most common reason: missing customer_id (2)")


def test_a_day_without_transactions_fails_even_when_every_line_may_be_rejected(simtom, clean):
    lines = per_day(clean)["2024-11-25"]
    simtom.set_faults(Faults(rename_field={"amount": "amount_usd"}))
    with pytest.raises(RejectedDay) as failed:
        run_tap(simtom_config(simtom, end_date="2024-11-25", max_rejected_share=1))
    assert str(failed.value) == (
        f"2024-11-25: no transaction from the {lines} lines simtom sent ({lines} rejected); "
        f"most common reason: missing amount ({lines})"
    )


@pytest.mark.parametrize("mode", ["record", "batch"])
def test_a_new_field_travels_in_extra_fields(simtom, clean, tmp_path, caplog, mode):
    config = simtom_config(simtom, **THREE_DAYS)
    if mode == "batch":
        config["batch_config"] = {
            "encoding": {"format": "jsonl"},
            "storage": {"root": (tmp_path / "batches").as_uri()},
        }
    simtom.set_faults(Faults(add_field={"merchant_tier": "gold", "loyalty": {"level": 2}}))
    with caplog.at_level(logging.WARNING, logger="tap-simtom-bnpl"):
        output = run_tap(config)
    transactions = (output.records if mode == "record" else batch_records(output))("transactions")
    assert {t["extra_fields"] for t in transactions} == {
        '{"loyalty":{"level":2},"merchant_tier":"gold"}'
    }
    assert {t["extra_fields"] for t in clean.records("transactions")} == {None}
    # Nothing else changed: the same keys and values as a clean run.
    strip = lambda rows: {  # noqa: E731
        t["transaction_key"]: {k: v for k, v in t.items() if k not in RUN_FIELDS} for t in rows
    }
    assert strip(transactions) == strip(clean.records("transactions"))
    assert bookmark_days(output.final_state)["transactions"] == "2024-11-27"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert (
        "simtom sent fields this tap does not know (kept in transactions.extra_fields): "
        "loyalty, merchant_tier"
    ) in warnings
