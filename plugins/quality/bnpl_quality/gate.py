"""One gate run: pick the days, run ``daily_quality_gate``, keep every result."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

from bnpl_quality.config import ConfigError, GateConfig
from bnpl_quality.days import DaySelection, select_days
from bnpl_quality.report import write_report
from bnpl_quality.results import (
    EXAMPLE_LIMIT,
    GateOutcome,
    first_line,
    jsonable,
    outcomes_from_checkpoint,
    result_rows,
    substitute_batch,
)
from bnpl_quality.suites import SuiteInputs, batch_query, build_suites, reconciliation_query
from bnpl_quality.volume import DayExpectation, day_expectations
from bnpl_quality.warehouse import RESULT_COLUMNS, RUN_COLUMNS, Warehouse


def new_run_id(now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def run_gate(config: GateConfig, gx: Any | None = None) -> GateOutcome:
    """Validate the selected days, record the results, write the report; never raises on
    bad data (the verdict says it), only on bad settings or an unreachable warehouse."""
    started = time.monotonic()
    run_time = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    warehouse = Warehouse(config)
    try:
        selection = select_days(config, warehouse)
        outcome = GateOutcome(
            run_id=new_run_id(run_time),
            run_time=run_time,
            checked_label=selection.label,
            days=selection.days,
            fail_on_drift=config.fail_on_drift,
        )
        expectations: dict[date, DayExpectation] = {}
        if selection.days:
            inputs = _suite_inputs(config, warehouse, selection)
            expectations = inputs.expectations
            if gx is None:
                from bnpl_quality.gx_runtime import import_gx

                gx = import_gx()
            from bnpl_quality.gx_runtime import get_context, run_checkpoint

            batch = batch_query(inputs)
            result = run_checkpoint(
                gx,
                get_context(gx, config),
                warehouse.connection_string,
                warehouse.engine_kwargs,
                batch,
                build_suites(gx, inputs),
                outcome.run_id,
                data_docs=config.data_docs,
            )
            outcome.outcomes = outcomes_from_checkpoint(result)
            _add_examples(outcome, warehouse, batch)
            outcome.daily = _daily_rows(inputs, warehouse, batch)
        outcome.duration_seconds = round(time.monotonic() - started, 2)
        write_report(config, outcome, expectations)
        _record(config, warehouse, outcome, selection)
        return outcome
    finally:
        warehouse.dispose()


def _suite_inputs(config: GateConfig, warehouse: Warehouse, selection: DaySelection) -> SuiteInputs:
    tables = config.tables
    if not warehouse.has_table(tables.transactions):
        raise ConfigError(
            f"transactions_table: {tables.transactions} does not exist "
            "(has the extract-load step run?)"
        )
    volumes: dict[date, int | None] = {}
    for day in selection.days:
        extraction = selection.extractions.get(day)
        logged = extraction.base_daily_volume if extraction else None
        volumes[day] = config.expected_volume or logged
    has_staging = warehouse.has_table(tables.staging_transactions)
    has_quarantine = warehouse.has_table(tables.quarantine)
    has_reconciliation = warehouse.has_table(tables.reconciliation)
    # Where the fields simtom sent beyond the tap's schema are read: staging, else raw (a
    # warehouse loaded before the tap kept them has the column in neither).
    extra_fields = None
    for table, built in (
        (tables.staging_transactions, has_staging),
        (tables.transactions, True),
    ):
        if built and warehouse.has_column(table, "extra_fields"):
            extra_fields = warehouse.ref(table)
            break
    return SuiteInputs(
        config=config,
        days=selection.days,
        expectations=day_expectations(
            volumes, config.holiday_country, config.band_low_slack, config.band_high_slack
        ),
        transactions=warehouse.ref(tables.transactions),
        extraction_log=warehouse.ref(tables.extraction_log),
        quarantine=warehouse.ref(tables.quarantine) if has_quarantine else None,
        staging=warehouse.ref(tables.staging_transactions) if has_staging else None,
        reconciliation=warehouse.ref(tables.reconciliation) if has_reconciliation else None,
        extraction_keys={day: e.extraction_key for day, e in selection.extractions.items()},
        extra_fields=extra_fields,
    )


def _add_examples(outcome: GateOutcome, warehouse: Warehouse, batch: str) -> None:
    # GX's SUMMARY format keeps no rows of custom queries; fetch a few for people to read.
    for o in outcome.outcomes:
        if o.success or not o.unexpected_rows_query or o.error:
            continue
        query = substitute_batch(o.unexpected_rows_query, batch)
        try:
            rows = warehouse.rows(f"SELECT * FROM ({query}) AS unexpected LIMIT {EXAMPLE_LIMIT}")
        except sa.exc.SQLAlchemyError as exc:
            o.observed["examples_error"] = first_line(exc)
            continue
        o.observed["examples"] = [{k: jsonable(v) for k, v in row.items()} for row in rows]


def _daily_rows(inputs: SuiteInputs, warehouse: Warehouse, batch: str) -> list[dict[str, Any]]:
    # A reconciliation the checks could not read (its expectation already failed on it)
    # must not keep the report from showing the days.
    try:
        rows = warehouse.rows(
            reconciliation_query(inputs, batch=f"({batch})", mismatches_only=False)
        )
    except sa.exc.SQLAlchemyError:
        rows = []
    by_day = {jsonable(r["day"]): r for r in rows}
    daily = []
    for day, expected in inputs.expectations.items():
        row = by_day.get(day.isoformat(), {})
        daily.append(
            {
                "day": day,
                "day_type": expected.day_type,
                "base_daily_volume": expected.base_daily_volume,
                "extracted": row.get("extracted"),
                "loaded": row.get("loaded") or 0,
                "staged": row.get("staged"),
                "quarantined": row.get("quarantined_loaded") or 0,
                "expected": expected.expected,
                "band_low": expected.warn_low,
                "band_high": expected.warn_high,
                "fail_low": expected.fail_low,
                "fail_high": expected.fail_high,
            }
        )
    return daily


def _record(
    config: GateConfig, warehouse: Warehouse, outcome: GateOutcome, selection: DaySelection
) -> None:
    warehouse.append(config.tables.results, RESULT_COLUMNS, result_rows(outcome, config.warehouse))
    warehouse.append(
        config.tables.runs,
        RUN_COLUMNS,
        [
            {
                "run_id": outcome.run_id,
                "run_time": outcome.run_time,
                "verdict": outcome.verdict,
                "success": outcome.success,
                "checked_days": outcome.checked_label,
                "first_checked_day": selection.first,
                "last_checked_day": selection.last,
                "day_count": len(selection.days),
                "extraction_keys": ",".join(selection.extraction_keys),
                "expectations": len(outcome.outcomes),
                "critical_failures": len(outcome.critical_failures),
                "warnings": len(outcome.warnings),
                "fail_on_drift": config.fail_on_drift,
                "duration_seconds": outcome.duration_seconds,
                "report_path": str(config.report_path),
                "warehouse": config.warehouse,
            }
        ],
    )
