"""Single values coerced the way pydantic v2's lax JSON mode does, with its error types.

Each parser returns the coerced value or raises ``FieldError`` carrying pydantic's error
``type``, message and ``ctx``; ``validation`` places them in the 422 body.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

_INT_TEXT = re.compile(r"^\s*[+-]?\d+\s*$")
# A date, or a datetime at exactly midnight (pydantic accepts both for a date field).
_DATE_TEXT = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ]00:00(?::00(?:\.0+)?)?(?:Z|[+-]00:?00)?)?$"
)
_TRUE = {"true", "1", "yes", "on", "t", "y"}
_FALSE = {"false", "0", "no", "off", "f", "n"}


class FieldError(Exception):
    """One value failed: pydantic's error ``type`` (kind), message and ``ctx``."""

    def __init__(self, kind: str, msg: str, ctx: dict[str, Any] | None = None) -> None:
        super().__init__(msg)
        self.kind, self.msg, self.ctx = kind, msg, ctx


def parse_int(value: Any) -> int:
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


def parse_float(value: Any) -> float:
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


def parse_bool(value: Any) -> bool:
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


def parse_date(value: Any) -> date:
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


def parse_datetime(value: Any) -> str:
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


def parse_enum(options: tuple[str, ...]) -> Callable[[Any], str]:
    expected = ", ".join(f"'{option}'" for option in options[:-1]) + f" or '{options[-1]}'"

    def check(value: Any) -> str:
        if isinstance(value, str) and value in options:
            return value
        raise FieldError("enum", f"Input should be {expected}", {"expected": expected})

    return check


def parse_int_list(value: Any) -> list[int]:
    if not isinstance(value, list):
        raise FieldError("list_type", "Input should be a valid list")
    return value  # items are checked one by one in validate_body


def check_bounds(ge: float | None = None, le: float | None = None) -> Callable[[float], float]:
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
