"""Day bookmarks: the last day whose records were all emitted, per stream.

The SDK's incremental state (the last record's replication value, STATE every N records)
would mark half-emitted days as done. This tap instead writes one STATE after each
complete day, with each selected stream's bookmark set to that day; bookmarks never move
back and other keys of the incoming state are kept.
"""

from __future__ import annotations

import copy
import datetime as dt
import typing as t

from tap_simtom_bnpl.config_validation import SettingsError


def _bookmark_day(where: str, value: t.Any) -> dt.date:
    """A bookmark's day: a YYYY-MM-DD date, or the UTC date of an ISO date-time."""
    if isinstance(value, str):
        text = value.strip()
        try:
            if len(text) == 10:
                return dt.date.fromisoformat(text)
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            if moment.tzinfo is not None:
                moment = moment.astimezone(dt.timezone.utc)
            return moment.date()
    raise SettingsError(f"{where}: expected a date YYYY-MM-DD, got {value!r}")


class DayBookmarks:
    """Reads the incoming state and produces the STATE value after each day."""

    def __init__(
        self,
        state: t.Mapping[str, t.Any],
        replication_keys: t.Mapping[str, str],
        selected: t.Iterable[str],
    ) -> None:
        """`replication_keys`: every stream's name and replication key (a date field)."""
        self._replication_keys = dict(replication_keys)
        self._state: dict = copy.deepcopy(dict(state or {}))
        bookmarks = self._state.setdefault("bookmarks", {})
        if not isinstance(bookmarks, dict):
            raise SettingsError("state: 'bookmarks' must be an object")
        self._selected = [name for name in self._replication_keys if name in set(selected)]
        self._days: dict[str, dt.date | None] = {}
        for name in self._replication_keys:
            value = (bookmarks.get(name) or {}).get("replication_key_value")
            where = f"state: bookmarks.{name}.replication_key_value"
            self._days[name] = _bookmark_day(where, value) if value not in (None, "") else None

    @property
    def has_bookmarks(self) -> bool:
        """Whether the incoming state holds any day bookmark."""
        return any(day is not None for day in self._days.values())

    def done_through(self) -> dt.date | None:
        """Last day done for every selected stream (None: start from start_date)."""
        days = [self._days[name] for name in self._selected]
        if not days or any(day is None for day in days):
            return None
        return min(t.cast("list[dt.date]", days))

    def day_of(self, name: str) -> dt.date | None:
        """The bookmark of stream `name`."""
        return self._days[name]

    def advance(self, day: dt.date) -> dict:
        """Mark `day` complete for the selected streams; return the new state value."""
        for name in self._selected:
            current = self._days[name]
            if current is None or day > current:
                self._days[name] = day
                self._state["bookmarks"][name] = {
                    "replication_key": self._replication_keys[name],
                    "replication_key_value": day.isoformat(),
                }
        return self.value

    @property
    def value(self) -> dict:
        """The current state value (a copy)."""
        return copy.deepcopy(self._state)
