"""A small raw layer in a real DuckDB file, shaped like the tap and the DuckDB loader write it.

Column names and types follow SPEC.md's raw layer and target-duckdb-append's mapping (strings
VARCHAR, numbers DOUBLE, integers HUGEINT, date-time TIMESTAMP, dates kept as VARCHAR),
and a primary key on each table's key (``load_days(primary_key=False)`` leaves raw.transactions
append-only, as the loader makes it). Values follow the simtom API (docs/simtom-api.md); day counts
follow simtom's daily volume model (``simtom_local.volume``), as simtom draws them.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
from bnpl_quality.calendar import date_range
from simtom_local.domains import ALLOWED
from simtom_local.volume import day_count as simtom_day_count

TRANSACTION_COLUMNS = {
    "transaction_key": "VARCHAR",
    "transaction_date": "VARCHAR",
    "transaction_id": "VARCHAR",
    "customer_id": "VARCHAR",
    "customer_key": "VARCHAR",
    "customer_profile_key": "VARCHAR",
    "product_id": "VARCHAR",
    "device_id": "VARCHAR",
    "payment_method_id": "VARCHAR",
    "amount": "DOUBLE",
    "currency": "VARCHAR",
    "status": "VARCHAR",
    "risk_scenario": "VARCHAR",
    "risk_score": "DOUBLE",
    "risk_level": "VARCHAR",
    "installment_count": "HUGEINT",
    "first_payment_amount": "DOUBLE",
    "payment_frequency": "VARCHAR",
    "purchase_context": "VARCHAR",
    "checkout_speed": "VARCHAR",
    "cart_abandonment_count": "HUGEINT",
    "price_comparison_time": "HUGEINT",
    "time_on_site_seconds": "HUGEINT",
    "credit_utilization": "DOUBLE",
    "economic_stress_factor": "DOUBLE",
    "will_default": "BOOLEAN",
    "days_to_first_missed_payment": "HUGEINT",
    "customer_age_bracket": "VARCHAR",
    "customer_tenure_days": "HUGEINT",
    "customer_income_bracket": "VARCHAR",
    "customer_credit_score_range": "VARCHAR",
    "customer_verification_level": "VARCHAR",
    "customer_address_stability": "VARCHAR",
    "customer_state": "VARCHAR",
    "product_category": "VARCHAR",
    "product_subcategory": "VARCHAR",
    "product_brand": "VARCHAR",
    "product_price": "DOUBLE",
    "product_bnpl_eligible": "BOOLEAN",
    "product_risk_category": "VARCHAR",
    "device_type": "VARCHAR",
    "device_os": "VARCHAR",
    "device_is_trusted": "BOOLEAN",
    "payment_provider": "VARCHAR",
    "payment_type": "VARCHAR",
    "payment_credit_limit": "HUGEINT",
    "_timestamp": "TIMESTAMP",
    "_record_id": "HUGEINT",
    "_generator": "VARCHAR",
    "extraction_run_id": "VARCHAR",
    "requested_at": "TIMESTAMP",
    "window_start": "VARCHAR",
    "window_end": "VARCHAR",
    "extra_fields": "VARCHAR",
    "_sdc_extracted_at": "TIMESTAMP",
    "_sdc_batched_at": "TIMESTAMP",
    "_sdc_deleted_at": "VARCHAR",
}

LOG_COLUMNS = {
    "extraction_key": "VARCHAR",
    "extraction_run_id": "VARCHAR",
    "extraction_date": "VARCHAR",
    "window_start": "VARCHAR",
    "window_end": "VARCHAR",
    "request_start_date": "VARCHAR",
    "request_end_date": "VARCHAR",
    "records_received": "HUGEINT",
    "records_emitted": "HUGEINT",
    "records_quarantined": "HUGEINT",
    "attempts": "HUGEINT",
    "requested_at": "TIMESTAMP",
    "started_at": "TIMESTAMP",
    "finished_at": "TIMESTAMP",
    "duration_seconds": "DOUBLE",
    "api_url": "VARCHAR",
    "seed": "HUGEINT",
    "base_daily_volume": "HUGEINT",
    "day_type": "VARCHAR",
}

QUARANTINE_COLUMNS = {
    "quarantine_key": "VARCHAR",
    "extraction_run_id": "VARCHAR",
    "extraction_date": "VARCHAR",
    "window_start": "VARCHAR",
    "window_end": "VARCHAR",
    "line_number": "HUGEINT",
    "reason": "VARCHAR",
    "raw_line": "VARCHAR",
    "quarantined_at": "TIMESTAMP",
}

RISK_BANDS = ((0.3, "low"), (0.6, "medium"), (0.8, "high"))
SCENARIOS = (
    ("low_risk_purchase", 0.60, "normal", ("normal", "slow"), 0.0),
    ("impulse_purchase", 0.20, "impulse", ("fast",), 0.1),
    ("credit_stretched", 0.15, "normal", ("normal",), 0.2),
    ("high_risk_behavior", 0.05, "rushed", ("very_fast",), 0.3),
)


@dataclass
class Layer:
    path: Path
    days: list[date]
    volume: int
    run_id: str


def _create(con: duckdb.DuckDBPyConnection, table: str, columns: dict, key: str | None) -> None:
    cols = ", ".join(f'"{c}" {t}' for c, t in columns.items())
    pk = f', PRIMARY KEY ("{key}")' if key else ""
    con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({cols}{pk})")


def day_count(day: date, volume: int, seed: int) -> int:
    return simtom_day_count(seed, day, volume)


def transaction(rng: random.Random, day: date, ordinal: int, run_id: str, window) -> dict:
    name, _, context, speeds, scenario_risk = rng.choices(SCENARIOS, [s[1] for s in SCENARIOS])[0]
    price = round(rng.uniform(10, 900), 2)
    score = round(min(0.99, rng.uniform(0.05, 0.6) + scenario_risk), 2)
    level = next((name for bound, name in RISK_BANDS if score < bound), "very_high")
    defaulted = rng.random() < 0.005 + 0.25 * score**2
    ts = datetime(day.year, day.month, day.day) + timedelta(seconds=rng.randrange(86400))
    cust = f"cust_{rng.randrange(1, 999999):06d}"
    return {
        "transaction_key": f"{day:%Y%m%d}-{ordinal:06d}",
        "transaction_date": day.isoformat(),
        "transaction_id": f"txn_{ordinal:08d}",
        "customer_id": cust,
        "customer_key": f"cust_{run_id[:16]}|{cust}",
        "customer_profile_key": uuid.UUID(int=rng.getrandbits(128)).hex[:16],
        "product_id": f"prod_{rng.randrange(1, 5000):06d}",
        "device_id": f"{cust}_device_1",
        "payment_method_id": f"{cust}_pm_1",
        "amount": price,
        "currency": "USD",
        "status": "completed",
        "risk_scenario": name,
        "risk_score": score,
        "risk_level": level,
        "installment_count": 4 if price < 100 else rng.choice((4, 6)),
        "first_payment_amount": round(price * 0.25, 2),
        "payment_frequency": "bi_weekly",
        "purchase_context": context,
        "checkout_speed": rng.choice(speeds),
        "cart_abandonment_count": rng.randrange(4),
        "price_comparison_time": rng.randrange(300),
        "time_on_site_seconds": rng.randrange(30, 900),
        "credit_utilization": round(rng.uniform(0.8, 0.95), 3)
        if name == "credit_stretched"
        else None,
        "economic_stress_factor": 0.0,
        "will_default": defaulted,
        "days_to_first_missed_payment": 14 * rng.randrange(1, 4) if defaulted else None,
        "customer_age_bracket": rng.choice(sorted(ALLOWED["customer_age_bracket"])),
        "customer_tenure_days": rng.randrange(730),
        "customer_income_bracket": rng.choice(sorted(ALLOWED["customer_income_bracket"])),
        "customer_credit_score_range": rng.choice(sorted(ALLOWED["customer_credit_score_range"])),
        "customer_verification_level": rng.choice(sorted(ALLOWED["customer_verification_level"])),
        "customer_address_stability": rng.choice(sorted(ALLOWED["customer_address_stability"])),
        "customer_state": "CA",
        "product_category": "electronics",
        "product_subcategory": "headphones",
        "product_brand": "Apple",
        "product_price": price,
        "product_bnpl_eligible": True,
        "product_risk_category": rng.choice(sorted(ALLOWED["product_risk_category"])),
        "device_type": rng.choice(sorted(ALLOWED["device_type"])),
        "device_os": "iOS",
        "device_is_trusted": True,
        "payment_provider": "klarna",
        "payment_type": "bnpl_account",
        "payment_credit_limit": 1000,
        "_timestamp": ts,
        "_record_id": ordinal,
        "_generator": "BNPLGenerator",
        "extraction_run_id": run_id,
        "requested_at": datetime(2025, 1, 2, 3, 4, 5),
        "window_start": window[0].isoformat(),
        "window_end": window[1].isoformat(),
        "extra_fields": None,
        "_sdc_extracted_at": datetime(2025, 1, 2, 3, 4, 5),
        "_sdc_batched_at": datetime(2025, 1, 2, 3, 4, 6),
        "_sdc_deleted_at": None,
    }


def load_days(
    path: Path,
    days: list[date],
    volume: int = 60,
    seed: int = 7,
    quarantined_per_day: int = 0,
    primary_key: bool = True,
    finished_at: datetime | None = None,
    counts: dict[date, int] | None = None,
    requested_at: datetime | None = None,
) -> str:
    """Append one extraction run of ``days``; with ``primary_key``, a day loaded again replaces
    its transactions.

    ``counts`` overrides the transactions of some days (what the server sent those days).
    ``requested_at`` defaults to ``finished_at``.
    """
    run_id = str(uuid.uuid4())
    window = (days[0], days[-1])
    finished = finished_at or datetime.now().replace(microsecond=0)
    requested = requested_at or finished
    con = duckdb.connect(str(path))
    try:
        con.execute("CREATE SCHEMA IF NOT EXISTS raw")
        _create(
            con, "raw.transactions", TRANSACTION_COLUMNS, "transaction_key" if primary_key else None
        )
        _create(con, "raw.extraction_log", LOG_COLUMNS, "extraction_key")
        _create(con, "raw.quarantine", QUARANTINE_COLUMNS, "quarantine_key")
        for day in days:
            rng = random.Random(f"{seed}|{day}|{volume}|contents")
            rows = [
                transaction(rng, day, i, run_id, window)
                for i in range((counts or {}).get(day, day_count(day, volume, seed)))
            ]
            cols = list(TRANSACTION_COLUMNS)
            if primary_key:
                con.execute(
                    "DELETE FROM raw.transactions WHERE transaction_date = ?", [day.isoformat()]
                )
            con.executemany(
                f"INSERT INTO raw.transactions ({', '.join(chr(34) + c + chr(34) for c in cols)}) "
                f"VALUES ({', '.join('?' for _ in cols)})",
                [[r[c] for c in cols] for r in rows],
            )
            for n in range(quarantined_per_day):
                line = days.index(day) * 1000 + n
                con.execute(
                    "INSERT INTO raw.quarantine VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        f"{run_id}:{window[0]}:1:{line}",
                        run_id,
                        day.isoformat(),
                        window[0].isoformat(),
                        window[1].isoformat(),
                        line,
                        "invalid JSON: Expecting value",
                        "data: {oops",
                        finished,
                    ],
                )
            con.execute(
                "INSERT INTO raw.extraction_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                "1, ?, ?, ?, 1.5, 'http://127.0.0.1:8765', ?, ?, NULL)",
                [
                    f"{run_id}:{day.isoformat()}",
                    run_id,
                    day.isoformat(),
                    window[0].isoformat(),
                    window[1].isoformat(),
                    window[0].isoformat(),
                    window[1].isoformat(),
                    len(rows) + quarantined_per_day,
                    len(rows),
                    quarantined_per_day,
                    requested,
                    requested,
                    finished,
                    seed,
                    volume,
                ],
            )
    finally:
        con.close()
    return run_id


def build_staging(path: Path) -> None:
    """What dbt's staging step does: one row per transaction_key in staging, and the per-day
    reconciliation as it reads when every day balances (whether it balances is dbt's to
    count; tests/test_daily_reconciliation.py checks that with real dbt)."""
    con = duckdb.connect(str(path))
    try:
        con.execute("CREATE SCHEMA IF NOT EXISTS staging")
        con.execute(
            "CREATE OR REPLACE TABLE staging.stg_simtom__transactions AS "
            "SELECT * EXCLUDE (transaction_date), "
            "CAST(transaction_date AS DATE) AS transaction_date "
            "FROM raw.transactions QUALIFY ROW_NUMBER() OVER "
            "(PARTITION BY transaction_key ORDER BY _sdc_batched_at DESC) = 1"
        )
        con.execute("CREATE SCHEMA IF NOT EXISTS intermediate")
        con.execute(
            "CREATE OR REPLACE TABLE intermediate.int_bnpl_daily_reconciliation AS "
            "SELECT CAST(extraction_date AS DATE) AS reconciliation_date, "
            "extraction_key AS latest_extraction_key, records_emitted, records_quarantined, "
            "records_emitted AS latest_run_raw_rows, "
            "records_emitted AS raw_distinct_transaction_keys, records_emitted AS staged_rows, "
            "records_emitted AS staged_rows_of_latest_run, "
            "records_quarantined AS latest_run_quarantine_rows, 0 AS unlogged_runs, "
            "TRUE AS is_balanced "
            "FROM raw.extraction_log QUALIFY ROW_NUMBER() OVER "
            "(PARTITION BY extraction_date "
            "ORDER BY requested_at DESC, finished_at DESC, extraction_run_id DESC) = 1"
        )
    finally:
        con.close()


def execute(path: Path, *statements: str) -> None:
    con = duckdb.connect(str(path))
    try:
        for statement in statements:
            con.execute(statement)
    finally:
        con.close()


def week(start: date = date(2024, 11, 25), days: int = 7) -> list[date]:
    return date_range(start, start + timedelta(days=days - 1))
