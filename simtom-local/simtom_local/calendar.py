"""A day's arrival times and economic stress, the way simtom shapes historical traffic.

A day's record count comes from ``volume.day_count`` (simtom's daily volume model). The
day's own seeded random stream draws its arrival times, so the timestamps of a day survive
clipped windows and concurrent requests alike.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from datetime import date
from itertools import accumulate

from .seeds import derive_seed

# Shoppers buy mostly in the morning and evening (UTC hours); weights, not probabilities.
HOUR_WEIGHTS = (
    2.0, 1.5, 1.0, 0.8, 0.8, 1.0, 1.5, 2.5, 4.0, 5.0, 5.0, 4.5,
    4.0, 4.0, 4.0, 4.5, 5.0, 5.5, 6.0, 6.5, 6.5, 5.5, 4.0, 3.0,
)  # fmt: skip
_HOUR_CUM = tuple(accumulate(HOUR_WEIGHTS))


def day_random(seed_token: str, day: date, base_daily_volume: int) -> random.Random:
    """The random stream owning a day's timestamps.

    ``seed_token`` is ``str(seed)`` for seeded requests and a per-request nonce otherwise.
    ``derive_seed`` hashes, so the stream does not depend on Python's hash randomisation.
    """
    return random.Random(
        derive_seed("simtom-local", "day", seed_token, day.isoformat(), base_daily_volume)
    )


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
