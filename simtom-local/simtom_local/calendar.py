"""Daily volume and intraday arrival times, the way simtom shapes historical traffic.

A day's record count is a pure function of (seed, date, base_daily_volume): the tap's
stable keys (day + ordinal) rest on that. ``base_daily_volume`` is the volume of an
ordinary day; the calendar multiplies it by

- a weekday factor (weekends 0.85, Friday a little busier),
- a week-of-month factor (pay-day week up, last week down),
- a month factor (January/February quiet, November/December busy),
- an event factor on retail events (Thanksgiving 0.2, Black Friday 1.6, Cyber Monday 1.4,
  Christmas Eve 0.45, Christmas 0.12, Boxing Day 0.55, New Year's Eve 0.7, New Year's Day
  0.35), which replaces the month factor on that day,
- seeded noise, N(1, 0.05) clipped to [0.85, 1.15].

The same seeded random stream also draws the day's arrival times, so counts and
timestamps of a day survive clipped windows and concurrent requests alike.
"""

from __future__ import annotations

import hashlib
import math
import random
from bisect import bisect_right
from datetime import date, timedelta
from itertools import accumulate

WEEKDAY_FACTORS = (0.97, 0.98, 1.0, 1.02, 1.05, 0.85, 0.85)  # Monday first
MONTH_FACTORS = (0.85, 0.88, 0.95, 0.97, 1.0, 1.0, 0.98, 1.02, 0.97, 1.0, 1.08, 1.15)
NOISE_SD = 0.05
NOISE_CLIP = (0.85, 1.15)

# Shoppers buy mostly in the morning and evening (UTC hours); weights, not probabilities.
HOUR_WEIGHTS = (
    2.0, 1.5, 1.0, 0.8, 0.8, 1.0, 1.5, 2.5, 4.0, 5.0, 5.0, 4.5,
    4.0, 4.0, 4.0, 4.5, 5.0, 5.5, 6.0, 6.5, 6.5, 5.5, 4.0, 3.0,
)  # fmt: skip
_HOUR_CUM = tuple(accumulate(HOUR_WEIGHTS))


def thanksgiving(year: int) -> date:
    """US Thanksgiving: the fourth Thursday of November."""
    first = date(year, 11, 1)
    first_thursday = first + timedelta(days=(3 - first.weekday()) % 7)
    return first_thursday + timedelta(weeks=3)


def event_factor(day: date) -> float | None:
    """The retail-event multiplier of ``day``, or None on an ordinary day."""
    if day.month == 11 or (day.month == 12 and day.day <= 2):
        tg = thanksgiving(day.year)
        offset = (day - tg).days
        if offset == 0:
            return 0.2
        if offset == 1:
            return 1.6  # Black Friday
        if offset == 4:
            return 1.4  # Cyber Monday
    if day.month == 12:
        return {24: 0.45, 25: 0.12, 26: 0.55, 31: 0.7}.get(day.day)
    if day.month == 1 and day.day == 1:
        return 0.35
    return None


def week_of_month_factor(day: date) -> float:
    if day.day <= 7:
        return 1.04
    if day.day >= 22:
        return 0.96
    return 1.0


def volume_factor(day: date) -> float:
    """The deterministic part of a day's volume relative to an ordinary day."""
    event = event_factor(day)
    seasonal = event if event is not None else MONTH_FACTORS[day.month - 1]
    return WEEKDAY_FACTORS[day.weekday()] * week_of_month_factor(day) * seasonal


def day_random(seed_token: str, day: date, base_daily_volume: int) -> random.Random:
    """The random stream owning a day's count and timestamps.

    ``seed_token`` is ``str(seed)`` for seeded requests and a per-request nonce otherwise.
    Hashing keeps the stream independent of Python's hash randomisation.
    """
    key = f"simtom-local|day|{seed_token}|{day.isoformat()}|{base_daily_volume}".encode()
    return random.Random(int.from_bytes(hashlib.sha256(key).digest()[:8], "big"))


def day_count(rng: random.Random, day: date, base_daily_volume: int) -> int:
    """Draw the day's record count (first draw of the day's stream)."""
    noise = min(max(rng.gauss(1.0, NOISE_SD), NOISE_CLIP[0]), NOISE_CLIP[1])
    return max(0, round(base_daily_volume * volume_factor(day) * noise))


def day_seconds(rng: random.Random, count: int) -> list[int]:
    """Sorted seconds-of-day of ``count`` arrivals (repeats allowed, like simtom's)."""
    rand = rng.random
    total = _HOUR_CUM[-1]
    cum = _HOUR_CUM
    seconds = [bisect_right(cum, rand() * total) * 3600 + int(rand() * 3600) for _ in range(count)]
    seconds.sort()
    return seconds


def economic_stress(drift_type: str, strength: float, index: int, total: int, day: date) -> float:
    """simtom's ``economic_stress_factor`` of the ``index``-th of ``total`` days (0 = none).

    Concept drift raises stress (and with it risk) across the requested range.
    """
    if drift_type == "none" or not strength:
        return 0.0
    progress = index / (total - 1) if total > 1 else 1.0
    if drift_type == "linear":
        level = progress
    elif drift_type == "sudden":
        level = 1.0 if progress >= 0.5 else 0.0
    elif drift_type == "gradual":
        level = progress * progress * (3 - 2 * progress)
    else:  # seasonal: peaks in late autumn, when consumer credit is most stretched
        level = 0.5 + 0.5 * math.sin(2 * math.pi * (day.timetuple().tm_yday - 244) / 365.25)
    return round(strength * level, 3)
