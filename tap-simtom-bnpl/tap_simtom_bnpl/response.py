"""Read one HTTP response into complete day batches.

A response's records arrive in date order; a day is complete when a later day starts in
the same response, or when the body ends cleanly with the window's last day
(`finish_through_end`). Records of a response are keyed with `keys.ResponseKeys`; a day's
records are handed on only as a whole `DayBatch`, which is what makes a day's bookmark
safe to write.
"""

from __future__ import annotations

import datetime as dt
import time
import typing as t
from dataclasses import dataclass, field
from operator import attrgetter

from tap_simtom_bnpl.keys import PROFILE_ATTRIBUTES, ResponseKeys, transaction_key_prefix
from tap_simtom_bnpl.parsing import LineParser, Parsed, Rejected
from tap_simtom_bnpl.records import CustomerRecord, TransactionRecord
from tap_simtom_bnpl.windows import ONE_DAY, Window, day_range

if t.TYPE_CHECKING:
    from tap_simtom_bnpl.extract import RunContext

_profile_attributes = attrgetter(*PROFILE_ATTRIBUTES)


def utc_now() -> str:
    """Current time as RFC 3339 with +00:00."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")


class RecordSink(t.Protocol):
    """What a day's records are collected in: a list, or an encoder (`RunContext`)."""

    def append(self, record: t.Any, /) -> None: ...

    def __len__(self) -> int: ...


@dataclass
class DayBatch:
    """Everything one complete day contributes to the four streams."""

    day: dt.date
    customers: RecordSink  # of CustomerRecord
    transactions: RecordSink  # of TransactionRecord
    quarantine: list[dict]
    log: dict


@dataclass
class _DayBuffer:
    day: dt.date
    started_at: str
    started: float
    id_base: int  # record id of the day's first record: ordinals count from it
    keep: bool  # False for a day a resumed run already has
    key_prefix: str
    customers: RecordSink
    transactions: RecordSink
    received: int = 0
    quarantine: list[dict] = field(default_factory=list)


class ResponseReader:
    """Parsing state of one HTTP response (one attempt at a window)."""

    def __init__(
        self,
        ctx: RunContext,
        window: Window,
        body: dict,
        number: int,
        skip_through: dt.date | None,
        requested_at: str,
    ) -> None:
        self.ctx = ctx
        self.window = window
        self.body = body
        self.number = number
        self.skip_through = skip_through
        self.requested_at = requested_at
        self.request_start = dt.date.fromisoformat(body["start_date"])
        self.request_end = dt.date.fromisoformat(body["end_date"])
        # Without a seed simtom re-draws every response, so the body alone is no identity.
        scope = "" if body.get("seed") is not None else f"{ctx.run_id}:{window.start}:{number}"
        self.keys = ResponseKeys(body, scope)
        self.parser = LineParser()
        self.lines = 0
        self.nonblank = 0
        self.next_id = 0
        # A profile's first_seen is its first transaction in the response, whichever day is
        # emitted. Skipped (already bookmarked) days come before every kept day, so only a
        # profile first seen on a skipped day needs its stamp kept until it is emitted.
        self.first_seen_on_skipped_day: dict[str, str] = {}
        self.emitted_profiles: set[str] = set()
        self.window_start = window.start.isoformat()
        self.window_end = window.end.isoformat()
        self.buffer = self._new_buffer(self.request_start)

    def _new_buffer(self, day: dt.date) -> _DayBuffer:
        keep = self.skip_through is None or day > self.skip_through
        new_records = self.ctx.new_records
        return _DayBuffer(
            day,
            utc_now(),
            time.monotonic(),
            self.next_id,
            keep,
            transaction_key_prefix(day),
            new_records(),
            new_records(),
        )

    def feed(self, line: bytes) -> list[DayBatch]:
        """Consume one line; return the days it completed."""
        self.lines += 1
        fast = self.parser.decode(line)
        if fast is not None:
            record, day = fast
            buffer = self.buffer
            record_id = record._record_id
            self.nonblank += 1
            if day == buffer.day and record_id >= self.next_id:
                # The common case: the next valid record of the current day.
                buffer.received += 1
                self.next_id = record_id + 1
                self._add(buffer, record, record_id)
                return []
            result: Parsed | Rejected | None = Parsed(record, day, record_id)
        else:
            result = self.parser.parse_other(line)
            if result is None:
                return []
            self.nonblank += 1
        return self._feed_other(line, result)

    def _feed_other(self, line: bytes, result: Parsed | Rejected) -> list[DayBatch]:
        completed: list[DayBatch] = []
        day = result.day
        if day is not None:
            if day < self.request_start or day > self.request_end:
                result = Rejected(
                    f"_timestamp day {day} is outside the requested range "
                    f"{self.request_start}..{self.request_end}"
                )
            elif day < self.buffer.day:
                result = Rejected(f"record of {day} arrived after {self.buffer.day} had begun")
            elif day > self.buffer.day:
                completed = self.roll_to(day)
        buffer = self.buffer
        buffer.received += 1
        if isinstance(result, Parsed) and result.record_id < self.next_id:
            result = Rejected(
                f"_record_id {result.record_id} out of sequence (expected >= {self.next_id})"
            )
        if isinstance(result, Parsed):
            self.next_id = result.record_id + 1
            self._add(buffer, result.record, result.record_id)
            return completed
        if result.record_id is not None and result.record_id >= self.next_id:
            # Keeps the next day's ordinals right even when this day ends in bad records.
            self.next_id = result.record_id + 1
        if buffer.keep:
            buffer.quarantine.append(self._quarantine_row(buffer.day, line, result.reason))
        return completed

    def _add(self, buffer: _DayBuffer, record: TransactionRecord, record_id: int) -> None:
        """Complete a parsed record with the tap's fields; its customer first if new."""
        attributes = _profile_attributes(record)
        customer_key, profile_key = self.keys.keys_of(record.customer_id, attributes)
        stamp = record._timestamp
        if not buffer.keep:
            self.first_seen_on_skipped_day.setdefault(profile_key, stamp)
            return
        if profile_key not in self.emitted_profiles:
            self.emitted_profiles.add(profile_key)
            first_seen = self.first_seen_on_skipped_day.pop(profile_key, stamp)
            buffer.customers.append(
                CustomerRecord(
                    profile_key,
                    customer_key,
                    record.customer_id,
                    *attributes,
                    record.customer_tenure_days,
                    first_seen,
                    first_seen[:10],
                    self.requested_at,
                    self.ctx.run_id,
                )
            )
        record.transaction_key = f"{buffer.key_prefix}{record_id - buffer.id_base:06d}"
        record.transaction_date = stamp[:10]
        record.customer_key = customer_key
        record.customer_profile_key = profile_key
        record.extraction_run_id = self.ctx.run_id
        record.requested_at = self.requested_at
        record.window_start = self.window_start
        record.window_end = self.window_end
        buffer.transactions.append(record)

    def _quarantine_row(self, day: dt.date | None, line: bytes, reason: str) -> dict:
        return {
            "quarantine_key": f"{self.ctx.run_id}:{self.window.start}:{self.number}:{self.lines}",
            "extraction_run_id": self.ctx.run_id,
            "extraction_date": day.isoformat() if day else None,
            "window_start": self.window_start,
            "window_end": self.window_end,
            "line_number": self.lines,
            "reason": reason,
            "raw_line": line.decode("utf-8", "backslashreplace"),
            "quarantined_at": utc_now(),
        }

    def roll_to(self, day: dt.date) -> list[DayBatch]:
        """Complete the current day and any empty days before `day`; start `day`."""
        completed = [self._complete(self.buffer)]
        gap = self.buffer.day + ONE_DAY
        while gap < day:
            completed.append(self._complete(self._new_buffer(gap)))
            gap += ONE_DAY
        self.buffer = self._new_buffer(day)
        return completed

    def finish_through_end(self) -> list[DayBatch]:
        """The body ended and nothing else exists: complete every remaining day."""
        completed = [self._complete(self.buffer)]
        for day in day_range(self.buffer.day + ONE_DAY, self.request_end):
            completed.append(self._complete(self._new_buffer(day)))
        return completed

    def _complete(self, buffer: _DayBuffer) -> DayBatch:
        settings = self.ctx.settings
        finished = time.monotonic()
        volume, day_type = self.ctx.volume(buffer.day)
        day_text = buffer.day.isoformat()
        log = {
            "extraction_key": f"{self.ctx.run_id}:{day_text}",
            "extraction_run_id": self.ctx.run_id,
            "extraction_date": day_text,
            "window_start": self.window_start,
            "window_end": self.window_end,
            "request_start_date": self.body["start_date"],
            "request_end_date": self.body["end_date"],
            "records_received": buffer.received,
            "records_emitted": len(buffer.transactions),
            "records_quarantined": len(buffer.quarantine),
            "attempts": self.number,
            "requested_at": self.requested_at,
            "started_at": buffer.started_at,
            "finished_at": utc_now(),
            "duration_seconds": round(finished - buffer.started, 6),
            "api_url": settings.display_url,
            "seed": settings.seed,
            "base_daily_volume": volume,
            "day_type": day_type,
        }
        return DayBatch(buffer.day, buffer.customers, buffer.transactions, buffer.quarantine, log)
