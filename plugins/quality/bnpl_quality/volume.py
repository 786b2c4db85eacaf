"""What each checked day's transaction count should be, from simtom's daily volume model.

The model itself lives once, in ``simtom_local.volume`` (the package of the local
simtom-compatible server, standard library only): a day's count is
``max(1, int(base_daily_volume x factor(day) x noise))`` with log-normal noise of sigma 0.1.
So a day's count divided by its noise-free expectation is the noise, and the limits below
are limits on the noise:

- within 3 sigma (x0.741..x1.350) lie 99.7% of real days: outside it, a day **warns**
  (about one ordinary day a year does);
- beyond 5 sigma (default x0.61..x1.65, the ``band_low_slack``/``band_high_slack``
  settings) lies about one real day in 1.7 million: outside it, a day **fails** the gate.
  A day cut to half its rows, a doubled day, a lost batch or a volume setting that does
  not match lands there.

Counts are whole numbers taken with ``int`` (and at least 1), so the limits on a count are
``max(1, floor(expected x limit))``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from simtom_local.volume import expected, noise_band

from bnpl_quality.calendar import day_type

WARN_SIGMAS = 3
FAIL_SIGMAS = 5
DEFAULT_LOW_SLACK = round(noise_band(FAIL_SIGMAS)[0], 2)  # 0.61
DEFAULT_HIGH_SLACK = round(noise_band(FAIL_SIGMAS)[1], 2)  # 1.65


@dataclass(frozen=True)
class DayExpectation:
    """A checked day: its type (for the report), volume and count limits (None: no volume)."""

    day: date
    day_type: str
    base_daily_volume: int | None
    expected: float | None = None
    warn_low: int | None = None  # outside warn_low..warn_high: beyond simtom's 3-sigma noise
    warn_high: int | None = None
    fail_low: int | None = None  # outside fail_low..fail_high: the gate fails
    fail_high: int | None = None


def warn_ratios(low_slack: float, high_slack: float) -> tuple[float, float]:
    """The 3-sigma noise band, kept inside the failing limits when those are set tighter."""
    low, high = noise_band(WARN_SIGMAS)
    return max(low, low_slack), min(high, high_slack)


def _count_limit(mean: float, ratio: float) -> int:
    return max(1, math.floor(mean * ratio))


def day_expectations(
    volumes: dict[date, int | None],
    country: str = "US",
    low_slack: float = DEFAULT_LOW_SLACK,
    high_slack: float = DEFAULT_HIGH_SLACK,
) -> dict[date, DayExpectation]:
    """Per day: its type, its expected count and the count limits (days without a volume
    get no limits and are not checked)."""
    warn_low, warn_high = warn_ratios(low_slack, high_slack)
    out: dict[date, DayExpectation] = {}
    for day, volume in sorted(volumes.items()):
        kind = day_type(day, country)
        if not volume:
            out[day] = DayExpectation(day, kind, volume)
            continue
        mean = expected(day, volume)
        out[day] = DayExpectation(
            day=day,
            day_type=kind,
            base_daily_volume=volume,
            expected=round(mean, 1),
            warn_low=_count_limit(mean, warn_low),
            warn_high=_count_limit(mean, warn_high),
            fail_low=_count_limit(mean, low_slack),
            fail_high=_count_limit(mean, high_slack),
        )
    return out
