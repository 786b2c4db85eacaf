"""simtom's daily transaction count in historical mode: the one model of it in this repo.

The local server draws its day counts from it and the quality gate sets its expectations
with it. A day's count is ``max(1, int(base_daily_volume x factor(day) x noise))``:

- ``factor`` multiplies a day-of-week, a week-of-month, a month-of-year and an event
  factor (holidays and shopping periods; see ``event_factor``);
- ``noise`` is log-normal with mu 0 and sigma 0.1, drawn per (seed, date): simtom seeds
  numpy's legacy generator with ``seed + date.toordinal()`` and draws once. ``noise``
  replays that draw (the same Mersenne Twister seeding, the same polar Gaussian), so a
  seeded day's count equals simtom's: base 5000, seed 42, 2024-11-25..12-01 gives 5169,
  5442, 7133, 989, 10182, 6010 and 6176, as measured on simtom.

At three sigma (99.7% of days) the noise stays within x0.741..x1.350 of ``expected``.
"""

from __future__ import annotations

import math
import random
from datetime import date, timedelta
from functools import lru_cache

WEEKDAY_FACTORS = (1.15, 1.10, 1.05, 1.10, 1.25, 0.85, 0.70)  # Monday first
MONTH_FACTORS = (0.75, 0.85, 0.95, 1.00, 1.00, 1.05, 1.05, 1.05, 1.00, 1.05, 1.10, 1.20)
NOISE_SIGMA = 0.1


def noise_band(sigmas: float) -> tuple[float, float]:
    """The range of the noise multiplier within ``sigmas`` standard deviations."""
    return math.exp(-sigmas * NOISE_SIGMA), math.exp(sigmas * NOISE_SIGMA)


def week_of_month_factor(day: date) -> float:
    if day.day <= 7:
        return 1.15
    if day.day <= 14:
        return 0.95
    if day.day <= 21:
        return 1.10
    return 0.90


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7, weeks=n - 1)


Periods = tuple[tuple[date, date, float], ...]


@lru_cache(maxsize=16)
def _events(year: int) -> tuple[dict[date, tuple[float, ...]], Periods]:
    """The single-day events and the (inclusive) periods that simtom computes for ``year``."""
    thanksgiving = _nth_weekday(year, 11, 3, 4)  # 4th Thursday of November
    # simtom resolves Mother's and Father's Day with weekday 0, so they fall on a Monday
    # (2nd of May, 3rd of June); modelled as simtom behaves, not as the calendar has them.
    mothers_day = _nth_weekday(year, 5, 0, 2)
    fathers_day = _nth_weekday(year, 6, 0, 3)
    days = {
        date(year, 1, 1): 0.2,  # new year's day
        date(year, 2, 14): 1.15,  # valentine's day
        date(year, 7, 4): 0.8,  # independence day
        date(year, 10, 31): 1.05,  # halloween
        date(year, 12, 24): 0.3,  # christmas eve
        date(year, 12, 25): 0.1,  # christmas day
        date(year, 12, 31): 0.4,  # new year's eve
        thanksgiving: 0.2,
        thanksgiving + timedelta(days=1): 1.6,  # black friday
        thanksgiving + timedelta(days=4): 1.4,  # cyber monday
        _nth_weekday(year, 9, 0, 1): 1.05,  # labor day
        mothers_day: 1.2,
        fathers_day: 1.1,
    }
    single: dict[date, tuple[float, ...]] = {}
    for day, factor in days.items():
        single[day] = (*single.get(day, ()), factor)
    periods = (
        (date(year, 8, 15), date(year, 9, 15), 1.2),  # back to school
        (thanksgiving - timedelta(days=1), thanksgiving + timedelta(days=4), 1.3),  # bf week
        (date(year, 12, 1), date(year, 12, 23), 1.2),  # christmas shopping
        (date(year, 12, 26), date(year + 1, 1, 2), 1.3),  # post christmas
        (date(year, 2, 11), date(year, 2, 15), 1.1),  # valentine's week
        (mothers_day - timedelta(days=3), mothers_day + timedelta(days=1), 1.15),
        (date(year, 6, 15), date(year, 8, 15), 1.0),  # summer holidays
        (date(year, 12, 20), date(year + 1, 1, 5), 0.5),  # year-end holidays
    )
    return single, periods


def event_factor(day: date) -> float:
    """The events active on ``day``: the strongest damping one wins, else the top boost.

    Periods come from the day's own year only, as simtom computes them: Jan 1-5 fall in
    no period that began the December before.
    """
    single, periods = _events(day.year)
    factors = [*single.get(day, ()), *(f for start, end, f in periods if start <= day <= end)]
    damping = [f for f in factors if f < 1.0]
    if damping:
        return min(damping)
    return max(factors, default=1.0)


def factor(day: date) -> float:
    """The noise-free multiplier of ``base_daily_volume`` on ``day``."""
    return (
        WEEKDAY_FACTORS[day.weekday()]
        * week_of_month_factor(day)
        * MONTH_FACTORS[day.month - 1]
        * event_factor(day)
    )


def expected(day: date, base_daily_volume: int) -> float:
    """The noise-free expectation of ``day``'s transaction count."""
    return base_daily_volume * factor(day)


def noise(seed: int | str, day: date) -> float:
    """The day's log-normal noise multiplier, a pure function of (seed, day).

    An integer seed gives simtom's own draw. Any other token (the server's per-request
    nonce of an unseeded request), or a key numpy would refuse (outside 0..2**32-1),
    gets a draw of the same distribution from a generator seeded with the key's text.
    """
    key = seed + day.toordinal() if isinstance(seed, int) else None
    if key is not None and 0 <= key < 2**32:
        rng = _numpy_legacy_random(key)
    else:
        rng = random.Random(f"{seed}|{day.toordinal()}")
    return math.exp(NOISE_SIGMA * _legacy_gauss(rng))


def _numpy_legacy_random(seed: int) -> random.Random:
    """A Mersenne Twister seeded like numpy's ``RandomState(seed)`` (``init_genrand``).

    Python's ``random()`` and numpy's legacy ``random_sample()`` both take 53 bits from
    two 32-bit outputs the same way, so the doubles drawn from here are numpy's.
    """
    state = [seed]
    for i in range(1, 624):
        previous = state[-1]
        state.append((1812433253 * (previous ^ (previous >> 30)) + i) & 0xFFFFFFFF)
    rng = random.Random()
    rng.setstate((3, (*state, 624), None))  # position 624: regenerate on the first draw
    return rng


def _legacy_gauss(rng: random.Random) -> float:
    """numpy's legacy standard normal (polar method; its first call returns ``f * x2``)."""
    while True:
        x1 = 2.0 * rng.random() - 1.0
        x2 = 2.0 * rng.random() - 1.0
        r2 = x1 * x1 + x2 * x2
        if 0.0 < r2 < 1.0:
            return math.sqrt(-2.0 * math.log(r2) / r2) * x2


def day_count(seed: int | str, day: date, base_daily_volume: int) -> int:
    """The day's transaction count, as simtom computes it."""
    return max(1, int(expected(day, base_daily_volume) * noise(seed, day)))
