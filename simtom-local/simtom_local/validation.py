"""Validation of ``POST /stream/{generator}`` bodies with simtom's (pydantic v2) error shapes.

simtom answers bad bodies with FastAPI's 422 ``{"detail": [...]}``; each entry has
``type``, ``loc`` (``["body", field]``), ``msg``, ``input``, ``ctx`` where pydantic gives
one and the pydantic ``url``. Coercion follows pydantic's lax JSON mode (``"5"`` is a
valid integer, ``5.5`` is not), so a body simtom accepts is accepted here and vice versa
for the cases the tap can produce. Unknown fields are ignored, as pydantic does by default.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from .coercion import (
    FieldError,
    check_bounds,
    parse_bool,
    parse_date,
    parse_datetime,
    parse_enum,
    parse_float,
    parse_int,
    parse_int_list,
)

PYDANTIC_URL = "https://errors.pydantic.dev/2.14/v/"
MAX_RANGE_DAYS = 365

ARRIVAL_PATTERNS = ("uniform", "poisson", "nhpp", "burst")
NOISE_TYPES = ("none", "gaussian", "uniform", "outliers")
DRIFT_TYPES = ("none", "linear", "seasonal", "sudden", "gradual")


@dataclass(frozen=True)
class StreamConfig:
    """A validated request: the fields the local server acts on, plus the canonical body."""

    start_date: date | None
    end_date: date | None
    base_daily_volume: int
    seed: int | None
    rate_per_second: float | None
    max_records: int | None
    drift_type: str
    drift_strength: float
    canonical: str  # sorted-keys JSON of every known field (defaults filled in)

    @property
    def historical(self) -> bool:
        return self.start_date is not None and self.end_date is not None


class BodyInvalid(Exception):
    """The body failed validation; ``detail`` is the 422 ``detail`` list."""

    def __init__(self, detail: list[dict[str, Any]]) -> None:
        super().__init__(json.dumps(detail))
        self.detail = detail


def error_entry(
    kind: str, loc: list[Any], msg: str, value: Any, ctx: dict[str, Any] | None
) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": kind, "loc": loc, "msg": msg, "input": value}
    if ctx is not None:
        entry["ctx"] = ctx
    entry["url"] = PYDANTIC_URL + kind
    return entry


# field -> (parser, bounds check or None, nullable, default)
_FIELDS: dict[str, tuple[Any, Any, bool, Any]] = {
    "rate_per_second": (parse_float, check_bounds(0.01, 1000.0), True, None),
    "base_daily_volume": (parse_int, check_bounds(1), False, 1000),
    "max_records": (parse_int, check_bounds(1), True, None),
    "arrival_pattern": (parse_enum(ARRIVAL_PATTERNS), None, False, "uniform"),
    "peak_hours": (parse_int_list, None, False, []),
    "burst_intensity": (parse_float, check_bounds(1.0, 10.0), False, 2.0),
    "burst_probability": (parse_float, check_bounds(0.0, 1.0), False, 0.1),
    "start_date": (parse_date, None, True, None),
    "end_date": (parse_date, None, True, None),
    "include_holiday_patterns": (parse_bool, None, False, True),
    "weekend_multiplier": (parse_float, check_bounds(0.1, 5.0), False, 0.85),
    "noise_type": (parse_enum(NOISE_TYPES), None, False, "none"),
    "noise_level": (parse_float, check_bounds(0.0, 1.0), False, 0.0),
    "drift_type": (parse_enum(DRIFT_TYPES), None, False, "none"),
    "drift_strength": (parse_float, check_bounds(0.0, 1.0), False, 0.0),
    "seed": (parse_int, None, True, None),
    "start_time": (parse_datetime, None, False, None),
    "time_compression": (parse_float, check_bounds(0.1, 1000.0), False, 1.0),
}


def parse_json_body(raw: bytes) -> Any:
    """Decode a request body like FastAPI; raises BodyInvalid with its error shapes."""
    if not raw.strip():
        raise BodyInvalid(
            [{"type": "missing", "loc": ["body"], "msg": "Field required", "input": None}]
        )
    try:
        return json.loads(raw)
    except UnicodeDecodeError as exc:
        ctx = {"error": str(exc)}
        raise BodyInvalid(
            [
                {
                    "type": "json_invalid",
                    "loc": ["body", exc.start],
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": ctx,
                }
            ]
        ) from None
    except json.JSONDecodeError as exc:
        raise BodyInvalid(
            [
                {
                    "type": "json_invalid",
                    "loc": ["body", exc.pos],
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": exc.msg},
                }
            ]
        ) from None


def validate_body(body: Any) -> StreamConfig:
    """Validate a decoded JSON body into a StreamConfig or raise BodyInvalid."""
    if not isinstance(body, dict):
        raise BodyInvalid(
            [
                error_entry(
                    "model_attributes_type",
                    ["body"],
                    "Input should be a valid dictionary or object to extract fields from",
                    body,
                    None,
                )
            ]
        )
    errors: list[dict[str, Any]] = []
    values: dict[str, Any] = {}
    for name, (parse, check, nullable, default) in _FIELDS.items():
        if name not in body:
            values[name] = default
            continue
        raw = body[name]
        if raw is None and nullable:
            values[name] = None
            continue
        try:
            value = parse(raw)
            if check is not None:
                value = check(value)
        except FieldError as exc:
            errors.append(error_entry(exc.kind, ["body", name], exc.msg, raw, exc.ctx))
            continue
        if name == "peak_hours":
            items = []
            for index, item in enumerate(value):
                try:
                    items.append(parse_int(item))
                except FieldError as exc:
                    loc = ["body", name, index]
                    errors.append(error_entry(exc.kind, loc, exc.msg, item, exc.ctx))
            value = items
        values[name] = value

    start, end = values.get("start_date"), values.get("end_date")
    if isinstance(start, date) and isinstance(end, date) and "end_date" in body:
        message = None
        if end < start:
            message = "end_date must be >= start_date"
        elif (end - start).days > MAX_RANGE_DAYS:
            message = f"date range cannot exceed {MAX_RANGE_DAYS} days"
        if message is not None:
            errors.append(
                error_entry(
                    "value_error",
                    ["body", "end_date"],
                    f"Value error, {message}",
                    body["end_date"],
                    {"error": {}},
                )
            )
    if errors:
        raise BodyInvalid(errors)

    canonical_values = {
        key: (value.isoformat() if isinstance(value, date) else value)
        for key, value in values.items()
        if value is not None or key != "start_time"
    }
    return StreamConfig(
        start_date=start,
        end_date=end,
        base_daily_volume=values["base_daily_volume"],
        seed=values["seed"],
        rate_per_second=values["rate_per_second"],
        max_records=values["max_records"],
        drift_type=values["drift_type"],
        drift_strength=values["drift_strength"],
        canonical=json.dumps(canonical_values, sort_keys=True, separators=(",", ":")),
    )
