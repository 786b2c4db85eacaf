"""Validation of ``POST /stream/{generator}`` bodies with simtom's (pydantic v2) error shapes.

simtom answers bad bodies with FastAPI's 422 ``{"detail": [...]}``; each entry has
``type``, ``loc`` (``["body", field]``), ``msg``, ``input``, ``ctx`` where pydantic gives
one and the pydantic ``url``. Coercion follows pydantic's lax JSON mode (``"5"`` is a
valid integer, ``5.5`` is not), so a body simtom accepts is accepted here and vice versa
for the cases the tap can produce. Unknown fields are ignored, as pydantic does by default.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

PYDANTIC_URL = "https://errors.pydantic.dev/2.14/v/"
MAX_RANGE_DAYS = 365

ARRIVAL_PATTERNS = ("uniform", "poisson", "nhpp", "burst")
NOISE_TYPES = ("none", "gaussian", "uniform", "outliers")
DRIFT_TYPES = ("none", "linear", "seasonal", "sudden", "gradual")

_INT_TEXT = re.compile(r"^\s*[+-]?\d+\s*$")
# A date, or a datetime at exactly midnight (pydantic accepts both for a date field).
_DATE_TEXT = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ]00:00(?::00(?:\.0+)?)?(?:Z|[+-]00:?00)?)?$"
)
_TRUE = {"true", "1", "yes", "on", "t", "y"}
_FALSE = {"false", "0", "no", "off", "f", "n"}


class FieldError(Exception):
    def __init__(self, kind: str, msg: str, ctx: dict[str, Any] | None = None) -> None:
        super().__init__(msg)
        self.kind, self.msg, self.ctx = kind, msg, ctx


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


def _int(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise FieldError(
            "int_from_float", "Input should be a valid integer, got a number with a fractional part"
        )
    if isinstance(value, str):
        if _INT_TEXT.match(value):
            return int(value)
        raise FieldError(
            "int_parsing", "Input should be a valid integer, unable to parse string as an integer"
        )
    raise FieldError("int_type", "Input should be a valid integer")


def _float(value: Any) -> float:
    if isinstance(value, (bool, int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
        raise FieldError(
            "float_parsing", "Input should be a valid number, unable to parse string as a number"
        )
    raise FieldError("float_type", "Input should be a valid number")


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise FieldError(
            "bool_parsing", "Input should be a valid boolean, unable to interpret input"
        )
    raise FieldError("bool_type", "Input should be a valid boolean")


def _date(value: Any) -> date:
    if not isinstance(value, str):
        raise FieldError("date_type", "Input should be a valid date")
    match = _DATE_TEXT.match(value)
    if match is None:
        reason = "input is too short" if len(value) < 10 else "invalid date format"
        if len(value) >= 10 and value[4:5] != "-":
            reason = "invalid date separator, expected `-`"
        raise FieldError(
            "date_from_datetime_parsing",
            f"Input should be a valid date or datetime, {reason}",
            {"error": reason},
        )
    year, month, day = (int(part) for part in match.groups())
    try:
        return date(year, month, day)
    except ValueError:
        reason = (
            "month value is outside expected range of 1-12"
            if not 1 <= month <= 12
            else "day value is outside expected range"
        )
        raise FieldError(
            "date_from_datetime_parsing",
            f"Input should be a valid date or datetime, {reason}",
            {"error": reason},
        ) from None


def _datetime(value: Any) -> str:
    if not isinstance(value, str):
        raise FieldError("datetime_type", "Input should be a valid datetime")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).isoformat()
    except ValueError:
        raise FieldError(
            "datetime_from_date_parsing",
            "Input should be a valid datetime or date, invalid datetime format",
            {"error": "invalid datetime format"},
        ) from None


def _enum(options: tuple[str, ...]):
    expected = ", ".join(f"'{option}'" for option in options[:-1]) + f" or '{options[-1]}'"

    def check(value: Any) -> str:
        if isinstance(value, str) and value in options:
            return value
        raise FieldError("enum", f"Input should be {expected}", {"expected": expected})

    return check


def _int_list(value: Any) -> list[int]:
    if not isinstance(value, list):
        raise FieldError("list_type", "Input should be a valid list")
    return value  # items are checked one by one in validate_body


def _bounds(ge: float | None = None, le: float | None = None):
    def check(value: float) -> float:
        if ge is not None and value < ge:
            raise FieldError(
                "greater_than_equal", f"Input should be greater than or equal to {ge}", {"ge": ge}
            )
        if le is not None and value > le:
            raise FieldError(
                "less_than_equal", f"Input should be less than or equal to {le}", {"le": le}
            )
        return value

    return check


# field -> (parser, bounds check or None, nullable, default)
_FIELDS: dict[str, tuple[Any, Any, bool, Any]] = {
    "rate_per_second": (_float, _bounds(0.01, 1000.0), True, None),
    "base_daily_volume": (_int, _bounds(1), False, 1000),
    "max_records": (_int, _bounds(1), True, None),
    "arrival_pattern": (_enum(ARRIVAL_PATTERNS), None, False, "uniform"),
    "peak_hours": (_int_list, None, False, []),
    "burst_intensity": (_float, _bounds(1.0, 10.0), False, 2.0),
    "burst_probability": (_float, _bounds(0.0, 1.0), False, 0.1),
    "start_date": (_date, None, True, None),
    "end_date": (_date, None, True, None),
    "include_holiday_patterns": (_bool, None, False, True),
    "weekend_multiplier": (_float, _bounds(0.1, 5.0), False, 0.85),
    "noise_type": (_enum(NOISE_TYPES), None, False, "none"),
    "noise_level": (_float, _bounds(0.0, 1.0), False, 0.0),
    "drift_type": (_enum(DRIFT_TYPES), None, False, "none"),
    "drift_strength": (_float, _bounds(0.0, 1.0), False, 0.0),
    "seed": (_int, None, True, None),
    "start_time": (_datetime, None, False, None),
    "time_compression": (_float, _bounds(0.1, 1000.0), False, 1.0),
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
                    items.append(_int(item))
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
