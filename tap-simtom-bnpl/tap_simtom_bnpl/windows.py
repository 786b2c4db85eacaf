"""Request windows aligned to a fixed anchor date.

Window k covers [ANCHOR + k*W, ANCHOR + (k+1)*W - 1], clipped only to the configured
start and end dates - never to a bookmark - so a resumed run asks for exactly the window
it asked for before (the same request body, hence the same response when seeded).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

# A Monday: with window_days=7 every window is an ISO week.
ANCHOR = dt.date(1970, 1, 5)
ONE_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Window:
    """One request window: the aligned window clipped to the configured range."""

    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        """Number of days in the window."""
        return (self.end - self.start).days + 1


def day_range(start: dt.date, end: dt.date) -> Iterator[dt.date]:
    """Every day from `start` to `end`, inclusive."""
    day = start
    while day <= end:
        yield day
        day += ONE_DAY


def aligned_start(day: dt.date, window_days: int) -> dt.date:
    """First day of the aligned window that contains `day`."""
    offset = (day - ANCHOR).days % window_days
    return day - dt.timedelta(days=offset)


def windows(start: dt.date, end: dt.date, window_days: int) -> Iterator[Window]:
    """Aligned windows covering `start`..`end`, each clipped to that range."""
    if window_days < 1:
        raise ValueError("window_days must be >= 1")
    first = aligned_start(start, window_days)
    step = dt.timedelta(days=window_days)
    window_start = first
    while window_start <= end:
        window_end = window_start + step - ONE_DAY
        yield Window(max(window_start, start), min(window_end, end))
        window_start += step


def pending_windows(
    start: dt.date, end: dt.date, window_days: int, done_through: dt.date | None
) -> Iterator[Window]:
    """Windows of `start`..`end` that still hold a day after `done_through`."""
    for window in windows(start, end, window_days):
        if done_through is None or window.end > done_through:
            yield window
