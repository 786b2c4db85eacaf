"""Day types (weekday, weekend, holiday) for the report, and date ranges.

How many transactions a day should have is not decided here: ``bnpl_quality.volume``
takes it from simtom's daily volume model.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from functools import lru_cache

DAY_TYPES = ("weekday", "weekend", "holiday")


@lru_cache(maxsize=8)
def _holiday_calendar(country: str):
    import holidays

    try:
        return holidays.country_holidays(country)
    except NotImplementedError as exc:
        raise ValueError(
            f"holiday_country: unknown country code {country!r} (expected e.g. US, GB, DE)"
        ) from exc


def day_type(day: date, country: str = "US") -> str:
    """weekday, weekend or holiday (a public holiday of ``country`` wins over the weekend)."""
    if day in _holiday_calendar(country):
        return "holiday"
    return "weekend" if day.weekday() >= 5 else "weekday"


def date_range(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def contiguous(days: Iterable[date]) -> list[date]:
    """The full range from the earliest to the latest of ``days``."""
    days = sorted(set(days))
    return date_range(days[0], days[-1]) if days else []
