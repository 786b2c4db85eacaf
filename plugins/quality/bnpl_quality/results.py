"""From a checkpoint result to result rows, a verdict and a text summary."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from bnpl_quality.rules import CRITICAL, WARNING

PASS = "PASS"
WARN = "PASS_WITH_WARNINGS"
FAIL = "FAIL"
NOTHING_TO_CHECK = "NO_NEW_DAYS"

EXAMPLE_LIMIT = 10


@dataclass
class ExpectationOutcome:
    suite: str
    expectation: str
    description: str
    column: str | None
    success: bool
    severity: str
    unexpected_count: int | None
    observed: dict[str, Any]
    unexpected_rows_query: str | None = None
    error: str | None = None

    @property
    def observed_text(self) -> str:
        return json.dumps(self.observed, default=_json_default, sort_keys=True)

    def short(self) -> str:
        """One line for the text summary."""
        what = self.description + (f" [{self.column}]" if self.column else "")
        if self.error:
            return f"{what}: error: {self.error}"
        if "observed_value" in self.observed and self.unexpected_count is None:
            return f"{what}: observed {self.observed['observed_value']}"
        examples = self.observed.get("examples") or self.observed.get("partial_unexpected_list")
        sample = f"; e.g. {json.dumps(examples[:3], default=_json_default)}" if examples else ""
        return f"{what}: {self.unexpected_count} unexpected{sample}"


@dataclass
class GateOutcome:
    run_id: str
    run_time: datetime
    checked_label: str
    days: tuple[date, ...]
    fail_on_drift: bool
    outcomes: list[ExpectationOutcome] = field(default_factory=list)
    duration_seconds: float = 0.0
    daily: list[dict[str, Any]] = field(default_factory=list)

    @property
    def critical_failures(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success and o.severity == CRITICAL]

    @property
    def warnings(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success and o.severity == WARNING]

    @property
    def verdict(self) -> str:
        if not self.days:
            return NOTHING_TO_CHECK
        if self.critical_failures or (self.fail_on_drift and self.warnings):
            return FAIL
        return WARN if self.warnings else PASS

    @property
    def success(self) -> bool:
        return self.verdict != FAIL

    @property
    def exit_code(self) -> int:
        return 0 if self.success else 1


def outcomes_from_checkpoint(result: Any) -> list[ExpectationOutcome]:
    outcomes = []
    for suite_result in result.run_results.values():
        suite = suite_result.suite_name
        for r in suite_result.results:
            cfg = r.expectation_config
            meta = cfg.meta or {}
            res = dict(r.result or {})
            error = _exception_message(r.exception_info)
            observed: dict[str, Any] = {}
            unexpected: int | None = None
            if cfg.type == "unexpected_rows_expectation":
                unexpected = res.get("observed_value")
                observed["unexpected_rows"] = unexpected
            elif "unexpected_count" in res:
                unexpected = res.get("unexpected_count")
                observed["unexpected_count"] = unexpected
                observed["unexpected_percent"] = _round(res.get("unexpected_percent"))
                observed["partial_unexpected_list"] = res.get("partial_unexpected_list") or []
            else:
                observed["observed_value"] = _round(res.get("observed_value"))
            if error:
                observed["error"] = error
            outcomes.append(
                ExpectationOutcome(
                    suite=suite,
                    expectation=cfg.type,
                    description=cfg.description or cfg.type,
                    column=meta.get("column") or cfg.kwargs.get("column"),
                    success=bool(r.success) and not error,
                    severity=meta.get("severity", CRITICAL),
                    unexpected_count=unexpected,
                    observed=observed,
                    unexpected_rows_query=cfg.kwargs.get("unexpected_rows_query"),
                    error=error,
                )
            )
    return outcomes


def substitute_batch(query: str, batch_query: str) -> str:
    """Put the batch into an unexpected-rows query the way GX does (alias unless joined)."""
    if re.search(r"\bJOIN\b", query, re.IGNORECASE):
        return query.replace("{batch}", f"({batch_query})")
    return query.replace("{batch}", f"({batch_query}) AS subselect")


def jsonable(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _json_default(value: Any) -> Any:
    converted = jsonable(value)
    return converted if converted is not value else str(value)


def _round(value: Any) -> Any:
    return round(value, 6) if isinstance(value, float) else jsonable(value)


def first_line(error: BaseException) -> str:
    """An exception as one line (database errors carry the whole statement after it)."""
    text = str(getattr(error, "orig", None) or error).strip()
    return (text.splitlines() or [type(error).__name__])[0][:300]


def _exception_message(info: Any) -> str | None:
    """GX reports a failed metric as nested dicts; keep the first message, one line."""
    if not info:
        return None
    stack = [info]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("raised_exception") and item.get("exception_message"):
                return str(item["exception_message"]).strip().splitlines()[0][:300]
            stack.extend(item.values())
    return None


def result_rows(outcome: GateOutcome, warehouse: str) -> list[dict[str, Any]]:
    return [
        {
            "run_id": outcome.run_id,
            "run_time": outcome.run_time,
            "suite": o.suite,
            "expectation": o.expectation,
            "description": o.description,
            "column_name": o.column,
            "success": o.success,
            "observed_value": o.observed_text,
            "unexpected_count": o.unexpected_count,
            "severity": o.severity,
            "checked_days": outcome.checked_label,
            "first_checked_day": outcome.days[0] if outcome.days else None,
            "last_checked_day": outcome.days[-1] if outcome.days else None,
            "warehouse": warehouse,
        }
        for o in outcome.outcomes
    ]
