"""Which days a gate run checks.

By default the newly loaded days: a day is new while its latest extraction (its
``extraction_key`` in the extraction log) has not been covered by a gate run that passed,
as recorded in the runs table. A failed run therefore leaves its days new, and the next
run checks them again until the data is fixed (re-extracted) or a run passes. A day dbt's
reconciliation (int_bnpl_daily_reconciliation) says does not balance is new too, even
when no new extraction of it was logged.

The gate checks one contiguous range: from the earliest to the latest new day, reaching
back to the day after the last day loaded before it, so a day the pipeline skipped between
two runs shows up as missing instead of slipping through.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from bnpl_quality.calendar import contiguous, date_range
from bnpl_quality.config import ConfigError, GateConfig
from bnpl_quality.sql import latest_extractions
from bnpl_quality.warehouse import Warehouse


@dataclass(frozen=True)
class Extraction:
    day: date
    extraction_key: str
    records_emitted: int | None
    records_quarantined: int | None
    base_daily_volume: int | None


@dataclass(frozen=True)
class DaySelection:
    days: tuple[date, ...]  # the contiguous checked range
    mode: str  # new | all | explicit
    extractions: dict[date, Extraction]  # latest extraction of each day in the range

    @property
    def first(self) -> date | None:
        return self.days[0] if self.days else None

    @property
    def last(self) -> date | None:
        return self.days[-1] if self.days else None

    @property
    def label(self) -> str:
        if not self.days:
            return ""
        if self.first == self.last:
            return self.first.isoformat()
        return f"{self.first.isoformat()}..{self.last.isoformat()}"

    @property
    def extraction_keys(self) -> list[str]:
        return sorted(e.extraction_key for e in self.extractions.values())


def parse_days(text: str) -> tuple[date, ...] | str | None:
    """``new`` (default), ``all``, or days and ranges: ``2024-11-25..2024-12-01,2024-12-24``."""
    text = (text or "").strip()
    if text in ("", "new"):
        return None
    if text == "all":
        return "all"
    days: set[date] = set()
    for part in re.split(r"[,\s]+", text):
        if not part:
            continue
        first, sep, last = part.partition("..")
        try:
            start = date.fromisoformat(first)
            end = date.fromisoformat(last) if sep else start
        except ValueError as exc:
            raise ConfigError(
                f"days: {part!r} is not a date or range (expected YYYY-MM-DD or "
                "YYYY-MM-DD..YYYY-MM-DD, or 'new' or 'all')"
            ) from exc
        if end < start:
            raise ConfigError(f"days: range {part!r} ends before it starts")
        days.update(date_range(start, end))
    return tuple(sorted(days))


def select_days(config: GateConfig, warehouse: Warehouse) -> DaySelection:
    log = warehouse.ref(config.tables.extraction_log)
    if not warehouse.has_table(config.tables.extraction_log):
        raise ConfigError(
            f"extraction_log_table: {config.tables.extraction_log} does not exist "
            "(has the extract-load step run?)"
        )
    latest: dict[date, Extraction] = {}
    for row in warehouse.rows(latest_extractions(log)):
        day = _as_day(row["day"])
        latest[day] = Extraction(
            day=day,
            extraction_key=row["extraction_key"],
            records_emitted=row["records_emitted"],
            records_quarantined=row["records_quarantined"],
            base_daily_volume=row["base_daily_volume"],
        )

    if isinstance(config.days, tuple):
        mode, wanted = "explicit", list(config.days)
    elif config.days == "all":
        mode, wanted = "all", list(latest)
    else:
        mode = "new"
        gated = _gated_extraction_keys(config, warehouse)
        wanted = [day for day, e in latest.items() if e.extraction_key not in gated]
        # Rows can arrive without a new extraction_log row (its load was lost): the days
        # dbt's reconciliation says do not balance are checked again whatever the log says.
        wanted += [day for day in _unbalanced_days(config, warehouse) if day not in wanted]
        if wanted:
            earlier = [day for day in latest if day < min(wanted)]
            if earlier:
                wanted.append(max(earlier) + timedelta(days=1))
    days = tuple(contiguous(wanted))
    return DaySelection(
        days=days, mode=mode, extractions={d: latest[d] for d in days if d in latest}
    )


def _gated_extraction_keys(config: GateConfig, warehouse: Warehouse) -> set[str]:
    if not warehouse.has_table(config.tables.runs):
        return set()
    rows = warehouse.rows(
        f"SELECT extraction_keys FROM {warehouse.ref(config.tables.runs)} WHERE success"
    )
    return {key for row in rows for key in (row["extraction_keys"] or "").split(",") if key}


def _unbalanced_days(config: GateConfig, warehouse: Warehouse) -> list[date]:
    if not warehouse.has_table(config.tables.reconciliation):
        return []
    rows = warehouse.rows(
        "SELECT reconciliation_date AS day FROM "
        f"{warehouse.ref(config.tables.reconciliation)} WHERE NOT is_balanced"
    )
    return [_as_day(row["day"]) for row in rows]


def _as_day(value: object) -> date:
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])
