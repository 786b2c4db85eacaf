"""The DuckDB loader in the pipeline: `meltano run tap-simtom-bnpl target-duckdb-append` in dev.

The dev environment runs the tap in BATCH mode (a JSON-lines file per stream and day) and
the loader (plugins/target_duckdb_append) appends the files to `raw` with DuckDB's
read_json. These tests run the real tap, loader and Meltano against the local server; the
loader's own tests (plugins/target_duckdb_append/tests) cover its messages one by one.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from simtom_local import SimtomServer

from conftest import Project, days_between, sent_per_day

pytestmark = [pytest.mark.job]

START, END = "2024-11-25", "2024-11-27"

# The raw tables' columns and types: dbt's sources, scripts/summary.py and the quality gate
# read these.
TIMESTAMP, TEXT, INT, FLOAT, BOOL = "TIMESTAMP", "VARCHAR", "HUGEINT", "DOUBLE", "BOOLEAN"
METADATA = {"_sdc_batched_at": TIMESTAMP, "_sdc_deleted_at": TEXT, "_sdc_extracted_at": TIMESTAMP}
CUSTOMER = {
    "customer_address_stability": TEXT,
    "customer_age_bracket": TEXT,
    "customer_credit_score_range": TEXT,
    "customer_id": TEXT,
    "customer_income_bracket": TEXT,
    "customer_key": TEXT,
    "customer_profile_key": TEXT,
    "customer_state": TEXT,
    "customer_tenure_days": INT,
    "customer_verification_level": TEXT,
    "extraction_run_id": TEXT,
    "requested_at": TIMESTAMP,
}
EXPECTED_COLUMNS = {
    "transactions": {
        **METADATA,
        **CUSTOMER,
        "_generator": TEXT,
        "_record_id": INT,
        "_timestamp": TIMESTAMP,
        "amount": FLOAT,
        "cart_abandonment_count": INT,
        "checkout_speed": TEXT,
        "credit_utilization": FLOAT,
        "currency": TEXT,
        "days_to_first_missed_payment": INT,
        "device_id": TEXT,
        "device_is_trusted": BOOL,
        "device_os": TEXT,
        "device_type": TEXT,
        "economic_stress_factor": FLOAT,
        # JSON text of the fields simtom sent that the tap does not know (null when none).
        "extra_fields": TEXT,
        "first_payment_amount": FLOAT,
        "installment_count": INT,
        "payment_credit_limit": INT,
        "payment_frequency": TEXT,
        "payment_method_id": TEXT,
        "payment_provider": TEXT,
        "payment_type": TEXT,
        "price_comparison_time": INT,
        "product_bnpl_eligible": BOOL,
        "product_brand": TEXT,
        "product_category": TEXT,
        "product_id": TEXT,
        "product_price": FLOAT,
        "product_risk_category": TEXT,
        "product_subcategory": TEXT,
        "purchase_context": TEXT,
        "risk_level": TEXT,
        "risk_scenario": TEXT,
        "risk_score": FLOAT,
        "status": TEXT,
        "time_on_site_seconds": INT,
        "transaction_date": TEXT,
        "transaction_id": TEXT,
        "transaction_key": TEXT,
        "will_default": BOOL,
        "window_end": TEXT,
        "window_start": TEXT,
    },
    "customers": {**METADATA, **CUSTOMER, "first_seen_at": TIMESTAMP, "first_seen_date": TEXT},
    "extraction_log": {
        **METADATA,
        "api_url": TEXT,
        "attempts": INT,
        "base_daily_volume": INT,
        "day_type": TEXT,
        "duration_seconds": FLOAT,
        "extraction_date": TEXT,
        "extraction_key": TEXT,
        "extraction_run_id": TEXT,
        "finished_at": TIMESTAMP,
        "records_emitted": INT,
        "records_quarantined": INT,
        "records_received": INT,
        "request_end_date": TEXT,
        "request_start_date": TEXT,
        "requested_at": TIMESTAMP,
        "seed": INT,
        "started_at": TIMESTAMP,
        "window_end": TEXT,
        "window_start": TEXT,
    },
    "quarantine": {
        **METADATA,
        "extraction_date": TEXT,
        "extraction_run_id": TEXT,
        "line_number": INT,
        "quarantine_key": TEXT,
        "quarantined_at": TIMESTAMP,
        "raw_line": TEXT,
        "reason": TEXT,
        "window_end": TEXT,
        "window_start": TEXT,
    },
}
KEYS = {
    "transactions": "transaction_key",
    "customers": "customer_profile_key",
    "extraction_log": "extraction_key",
    "quarantine": "quarantine_key",
}

_READER_SUMMARY = re.compile(r"(\d+) records, (\d+) batch manifests, (\d+) state messages")


def batch_files(project: Project) -> list[Path]:
    """Data files in the batch folder (the tap's lock file stays, and holds no rows)."""
    return [p for p in project.batch_dir.rglob("*") if p.is_file() and ".jsonl" in p.name]


def test_every_emitted_row_is_appended_from_batch_files(
    project: Project, simtom_server: SimtomServer
) -> None:
    output = project.extract_load(START, END)

    # The tap handed the loader batch files, not records, and the loader loaded them all.
    summary = _READER_SUMMARY.search(output)
    assert summary is not None, "the loader's input summary is missing from the log"
    records, manifests, states = (int(n) for n in summary.groups())
    days = len(days_between(START, END))
    # transactions, customers and extraction_log every day; quarantine only when not empty
    assert records == 0 and 3 * days <= manifests <= 4 * days
    assert states >= days
    assert project.batch_dir.is_dir()
    assert batch_files(project) == [], "batch files left behind after their rows were committed"

    # Rows per day: what the server streamed = what the tap logged = what raw holds.
    raw = project.raw_transactions_per_day()
    assert list(raw) == days_between(START, END)
    assert raw == sent_per_day(simtom_server)
    assert project.emitted_per_day() == raw

    # The tables' columns and types; keys NOT NULL, no primary key.
    for table, expected in EXPECTED_COLUMNS.items():
        columns = project.query(
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
            "WHERE table_schema = 'raw' AND table_name = ? ORDER BY ordinal_position",
            [table],
        )
        assert {name: kind for name, kind, _ in columns} == expected, table
        assert [name for name, _, nullable in columns if nullable == "NO"] == [KEYS[table]]
    assert project.query(
        "SELECT count(*) FROM duckdb_constraints() WHERE schema_name = 'raw' "
        "AND constraint_type = 'PRIMARY KEY'"
    ) == [(0,)]

    # One load time per commit, and the state advanced to the last day.
    (missing,) = project.query(
        "SELECT count(*) FROM raw.transactions "
        "WHERE _sdc_batched_at IS NULL OR _sdc_extracted_at IS NULL"
    )[0]
    assert missing == 0
    bookmarks = project.state()["singer_state"]["bookmarks"]
    assert {mark["replication_key_value"] for mark in bookmarks.values()} == {END}


def test_a_replayed_day_is_appended_with_a_later_load_time(
    project: Project, simtom_server: SimtomServer
) -> None:
    project.extract_load(START, START)
    first = project.raw_transactions_per_day()
    # Re-extract the same day without touching the state: raw is append-only, so the day
    # is there twice (staging keeps one row per key), and the replay's load time is later.
    project.extract_load(START, START, "--full-refresh", "--no-state-update")
    assert project.raw_transactions_per_day() == {START: 2 * first[START]}
    loads = project.query(
        "SELECT _sdc_batched_at, count(*) FROM raw.transactions GROUP BY 1 ORDER BY 1"
    )
    assert [count for _, count in loads] == [first[START], first[START]]
    assert (
        project.state()["singer_state"]["bookmarks"]["transactions"]["replication_key_value"]
        == START
    )
