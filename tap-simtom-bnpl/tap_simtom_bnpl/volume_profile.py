"""Day-type volumes of the seed design: weekday, weekend and holiday ranges.

A day's volume is drawn from its day type's range by hashing (seed, date), so the same
day always gets the same volume - which keeps simtom's per-day count, and therefore the
transaction keys, stable when a day is extracted again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import typing as t
from dataclasses import dataclass, field

if t.TYPE_CHECKING:
    import holidays

WEEKDAY = "weekday"
WEEKEND = "weekend"
HOLIDAY = "holiday"


@dataclass(frozen=True)
class VolumeRange:
    """An inclusive range of daily volumes."""

    low: int
    high: int

    def pick(self, fraction: float) -> int:
        """The volume at `fraction` (0 <= fraction < 1) of the range."""
        return self.low + int(fraction * (self.high - self.low + 1))


@dataclass(frozen=True)
class VolumeProfile:
    """Volume ranges per day type and the holiday calendar that decides the type.

    The seed design's ranges and calendar are the `volume_profile` setting's defaults.
    """

    KINDS: t.ClassVar[tuple[str, ...]] = (WEEKDAY, WEEKEND, HOLIDAY)

    weekday: VolumeRange
    weekend: VolumeRange
    holiday: VolumeRange
    country: str
    subdivision: str | None
    _calendar: dict = field(default_factory=dict, compare=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    def calendar_problem(self) -> str | None:
        """One-line description of an unknown country/subdivision, or None."""
        import holidays  # a tenth of a second of start-up: only with a volume profile

        try:
            holidays.country_holidays(self.country, subdiv=self.subdivision)
        except NotImplementedError as exc:
            setting = "subdivision" if "subdivision" in str(exc) else "country"
            value = self.subdivision if setting == "subdivision" else self.country
            return (
                f"volume_profile.{setting}: {value!r} is not a holiday calendar known to the "
                f"holidays library ({exc})"
            )
        return None

    def _holidays(self) -> holidays.HolidayBase:
        # The holidays object fills years lazily and is not thread-safe; share one per profile.
        import holidays

        with self._lock:
            calendar = self._calendar.get("calendar")
            if calendar is None:
                calendar = holidays.country_holidays(self.country, subdiv=self.subdivision)
                self._calendar["calendar"] = calendar
            return calendar

    def day_type(self, day: dt.date) -> str:
        """`holiday` (public holiday of the calendar), `weekend` (Sat/Sun) or `weekday`."""
        calendar = self._holidays()
        with self._lock:
            is_holiday = day in calendar
        if is_holiday:
            return HOLIDAY
        return WEEKEND if day.weekday() >= 5 else WEEKDAY

    def volume(self, day: dt.date, seed: int | None) -> int:
        """Deterministic volume for `day`, drawn from its day type's range."""
        kind = self.day_type(day)
        digest = hashlib.sha256(f"{seed}|{day.isoformat()}|{kind}".encode()).digest()
        fraction = int.from_bytes(digest[:8], "big") / 2**64
        return getattr(self, kind).pick(fraction)
