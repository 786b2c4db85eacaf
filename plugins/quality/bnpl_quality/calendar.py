"""Day types and the daily-volume band a simtom-shaped day should fall in.

simtom multiplies ``base_daily_volume`` by calendar factors and noise (CONTRACT.md): a
day-of-week factor, a week-of-month (pay-day) factor, a month factor, retail-event factors
(Thanksgiving 0.2, Black Friday 1.6, Christmas about 0.1) and log-normal noise (sigma 0.1).
The numbers below are simtom 0.1.0's published factors. Compatible servers (such as the
project's local one) shape days similarly but not identically, so the band is generous:
per day type (weekday / weekend / holiday, from the ``holidays`` package calendar) it
spans the smallest to the largest calendar factor among the checked days of that type,
widened by ``low_slack``/``high_slack`` (default 0.5 and 1.8: simtom's noise at three
sigma, x0.74..x1.35, times a 35% allowance for servers whose factors differ). It still
flags a halved or doubled day, a volume setting that does not match, or a lost batch.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

DAY_TYPES = ("weekday", "weekend", "holiday")

# Monday first.
WEEKDAY_FACTORS = (1.15, 1.10, 1.05, 1.10, 1.25, 0.85, 0.70)
MONTH_FACTORS = (0.75, 0.85, 0.95, 1.00, 1.00, 1.05, 1.05, 1.05, 1.00, 1.05, 1.10, 1.20)

DEFAULT_LOW_SLACK = 0.5
DEFAULT_HIGH_SLACK = 1.8


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7, weeks=n - 1)


def _single_day_events(year: int) -> dict[date, list[float]]:
    thanksgiving = _nth_weekday(year, 11, 3, 4)
    # simtom resolves Mother's and Father's Day with weekday 0 (a Monday): kept as it behaves.
    mothers_day = _nth_weekday(year, 5, 0, 2)
    events = {
        date(year, 1, 1): 0.2,
        date(year, 2, 14): 1.15,
        date(year, 7, 4): 0.8,
        date(year, 10, 31): 1.05,
        date(year, 12, 24): 0.3,
        date(year, 12, 25): 0.1,
        date(year, 12, 31): 0.4,
        mothers_day: 1.2,
        _nth_weekday(year, 6, 0, 3): 1.1,
        _nth_weekday(year, 9, 0, 1): 1.05,
        thanksgiving: 0.2,
        thanksgiving + timedelta(days=1): 1.6,
        thanksgiving + timedelta(days=4): 1.4,
    }
    out: dict[date, list[float]] = {}
    for day, factor in events.items():
        out.setdefault(day, []).append(factor)
    return out


def _event_periods(year: int) -> list[tuple[date, date, float]]:
    thanksgiving = _nth_weekday(year, 11, 3, 4)
    mothers_day = _nth_weekday(year, 5, 0, 2)
    return [
        (date(year, 8, 15), date(year, 9, 15), 1.2),
        (thanksgiving - timedelta(days=1), thanksgiving + timedelta(days=4), 1.3),
        (date(year, 12, 1), date(year, 12, 23), 1.2),
        (date(year, 12, 26), date(year + 1, 1, 2), 1.3),
        (date(year, 2, 11), date(year, 2, 15), 1.1),
        (mothers_day - timedelta(days=3), mothers_day + timedelta(days=1), 1.15),
        (date(year, 12, 20), date(year + 1, 1, 5), 0.5),
    ]


def event_factor(day: date) -> float:
    """simtom's retail-event multiplier: the strongest damping event wins, else the top boost."""
    factors = list(_single_day_events(day.year).get(day, []))
    factors += [f for start, end, f in _event_periods(day.year) if start <= day <= end]
    if not factors:
        return 1.0
    damping = [f for f in factors if f < 1.0]
    return min(damping) if damping else max(factors)


def week_of_month_factor(day: date) -> float:
    if day.day <= 7:
        return 1.15
    if day.day <= 14:
        return 0.95
    if day.day <= 21:
        return 1.10
    return 0.90


def calendar_factor(day: date) -> float:
    """The deterministic part of a day's volume relative to ``base_daily_volume``."""
    return (
        WEEKDAY_FACTORS[day.weekday()]
        * week_of_month_factor(day)
        * MONTH_FACTORS[day.month - 1]
        * event_factor(day)
    )


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


@dataclass(frozen=True)
class Band:
    """Expected transactions per day for one day type over the checked days."""

    day_type: str
    low: int
    high: int
    factor_low: float
    factor_high: float


@dataclass(frozen=True)
class DayExpectation:
    day: date
    day_type: str
    base_daily_volume: int | None
    band: Band | None


def expected_bands(
    volumes: dict[date, int | None],
    country: str = "US",
    low_slack: float = DEFAULT_LOW_SLACK,
    high_slack: float = DEFAULT_HIGH_SLACK,
) -> dict[date, DayExpectation]:
    """Per day: its type and the band of its type (days without a known volume get none)."""
    by_type: dict[str, list[tuple[date, int]]] = {}
    types = {day: day_type(day, country) for day in volumes}
    for day, volume in volumes.items():
        if volume:
            by_type.setdefault(types[day], []).append((day, volume))
    bands: dict[str, Band] = {}
    for kind, days in by_type.items():
        scaled = [volume * calendar_factor(day) for day, volume in days]
        factors = [calendar_factor(day) for day, _ in days]
        bands[kind] = Band(
            day_type=kind,
            low=max(0, math.floor(min(scaled) * low_slack)),
            high=math.ceil(max(scaled) * high_slack),
            factor_low=round(min(factors) * low_slack, 4),
            factor_high=round(max(factors) * high_slack, 4),
        )
    return {
        day: DayExpectation(
            day=day,
            day_type=types[day],
            base_daily_volume=volume,
            band=bands.get(types[day]) if volume else None,
        )
        for day, volume in sorted(volumes.items())
    }


def date_range(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def contiguous(days: Iterable[date]) -> list[date]:
    """The full range from the earliest to the latest of ``days``."""
    days = sorted(set(days))
    return date_range(days[0], days[-1]) if days else []
