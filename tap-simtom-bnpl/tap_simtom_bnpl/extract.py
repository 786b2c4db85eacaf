"""Extract one request window into complete day batches, retrying what breaks.

A day is complete when a later day starts in the same response, or when the body ends
cleanly with the window's last day. A body that breaks off, or ends early, is retried
from the first incomplete day; what was already complete is never requested again, and
what was incomplete is discarded, so nothing is emitted twice and nothing is lost.

Records of a response are keyed with `keys.ResponseKeys`; a day's records are handed on
only as a whole `DayBatch`, which is what makes a day's bookmark safe to write.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time
import typing as t
from collections.abc import Callable
from dataclasses import dataclass, field
from operator import attrgetter, itemgetter

import msgspec
import orjson

from tap_simtom_bnpl.client import (
    Cancelled,
    SimtomClient,
    TransientError,
    backoff_delay,
)
from tap_simtom_bnpl.keys import PROFILE_ATTRIBUTES, ResponseKeys, transaction_key_prefix
from tap_simtom_bnpl.parsing import LineParser, Parsed, Rejected, SimtomRecord, as_record
from tap_simtom_bnpl.windows import ONE_DAY, Window, day_range
from tap_simtom_bnpl.writer import JsonLines

if t.TYPE_CHECKING:
    from tap_simtom_bnpl.settings import Settings

_profile_attributes = itemgetter(*PROFILE_ATTRIBUTES)
_profile_attributes_of = attrgetter(*PROFILE_ATTRIBUTES)
_asdict = msgspec.structs.asdict
# A new customer profile up to first_seen_date; `_Attempt.customer_run_fields` complete it.
# Both output paths build it: the serialised one encodes it straight away. About a third
# of the records bring a new profile; building a dict and serialising it took 7% of the
# per-record time that encoding this struct saves (py-spy samples of `_Attempt.feed` over
# a week's response).
_CustomerRow = msgspec.defstruct(
    "CustomerRow",
    [
        *((name, str) for name in PROFILE_ATTRIBUTES),
        ("customer_profile_key", str),
        ("customer_key", str),
        ("customer_id", str),
        ("customer_tenure_days", int),
        ("first_seen_at", str),
        ("first_seen_date", str),
    ],
    gc=False,
)


def utc_now() -> str:
    """Current time as RFC 3339 with +00:00."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")


class RetriesExhausted(Exception):
    """A window kept failing; the message is one line."""


@dataclass
class DayBatch:
    """Everything one complete day contributes to the four streams.

    With `RunContext.serialize`, customers and transactions are already JSON lines.
    """

    day: dt.date
    customers: list[dict] | JsonLines
    transactions: list[dict] | JsonLines
    quarantine: list[dict]
    log: dict


@dataclass
class RunContext:
    """What every window of one run shares."""

    run_id: str
    settings: Settings
    client: SimtomClient
    logger: logging.Logger
    cancelled: threading.Event = field(default_factory=threading.Event)
    rng: random.Random = field(default_factory=random.Random)
    unknown_fields: set[str] = field(default_factory=set)
    # Serialise customers and transactions as soon as they are complete, on the worker: a
    # day of dicts held until the main thread writes it costs more (allocation, cache
    # misses, garbage collector passes) than the JSON itself. Only for output that takes
    # the records as they are (no stream maps, no deselected fields).
    serialize: bool = False

    def volume(self, day: dt.date) -> tuple[int, str | None]:
        """Volume to request for `day` and its day type (type only with a volume profile)."""
        profile = self.settings.volume_profile
        if profile is None:
            return self.settings.base_daily_volume, None
        return profile.volume(day, self.settings.seed), profile.day_type(day)


@dataclass
class _DayBuffer:
    day: dt.date
    started_at: str
    started: float
    id_base: int
    keep: bool
    key_prefix: str = ""
    # With serialisation: the transaction's JSON members between its fields and its
    # customer's keys, a %-format of the ordinal: `,"transaction_key":"YYYYMMDD-NNNNNN",
    # "transaction_date":"YYYY-MM-DD"`.
    ordinal_format: bytes = b""
    received: int = 0
    customers: list[dict] | JsonLines = field(default_factory=list)
    transactions: list[dict] | JsonLines = field(default_factory=list)
    quarantine: list[dict] = field(default_factory=list)


class _Attempt:
    """Parsing state of one HTTP response."""

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
        self.first_seen: dict[str, str] = {}
        self.emitted_profiles: set[str] = set()
        self.serialize = ctx.serialize
        # customer id -> its latest profile attributes and the transaction JSON's closing
        # members for that profile
        self.tails: dict[str, tuple[tuple, bytes]] = {}
        # extra_fields is null except on a record with fields the tap does not know: such a
        # record takes the field-by-field path, whose `_add_transaction` sets it.
        self.common = {
            "extra_fields": None,
            "extraction_run_id": ctx.run_id,
            "requested_at": requested_at,
            "window_start": window.start.isoformat(),
            "window_end": window.end.isoformat(),
        }
        self.common_members = orjson.dumps(self.common)[1:] + b"\n"  # closes the object
        self.customer_run_fields = {"requested_at": requested_at, "extraction_run_id": ctx.run_id}
        self.customer_members = b"," + orjson.dumps(self.customer_run_fields)[1:] + b"\n"
        self.buffer = self._new_buffer(self.request_start)

    def _new_buffer(self, day: dt.date) -> _DayBuffer:
        keep = self.skip_through is None or day > self.skip_through
        buffer = _DayBuffer(
            day, utc_now(), time.monotonic(), self.next_id, keep, transaction_key_prefix(day)
        )
        if self.serialize:
            buffer.customers, buffer.transactions = JsonLines(), JsonLines()
            buffer.ordinal_format = (
                f',"transaction_key":"{buffer.key_prefix}%06d","transaction_date":"{day}"'.encode()
            )
        return buffer

    def feed(self, line: bytes) -> list[DayBatch]:
        """Consume one line; return the days it completed."""
        self.lines += 1
        fast = self.parser.decode(line)
        if fast is not None:
            decoded, stamp, day = fast
            buffer = self.buffer
            record_id = decoded._record_id
            self.nonblank += 1
            if day == buffer.day and record_id >= self.next_id:
                # The common case: the next valid record of the current day.
                buffer.received += 1
                self.next_id = record_id + 1
                if self.serialize:
                    self._add_encoded(buffer, decoded, stamp, record_id)
                else:
                    self._add_transaction(buffer, Parsed(as_record(decoded, stamp), day, record_id))
                return []
            result: Parsed | Rejected | None = Parsed(as_record(decoded, stamp), day, record_id)
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
            self._add_transaction(buffer, result)
            return completed
        if result.record_id is not None and result.record_id >= self.next_id:
            # Keeps the next day's ordinals right even when this day ends in bad records.
            self.next_id = result.record_id + 1
        if buffer.keep:
            buffer.quarantine.append(self._quarantine_row(buffer.day, line, result.reason))
        return completed

    @staticmethod
    def _customer_row(
        attributes: tuple,
        customer_id: str,
        tenure_days: int,
        customer_key: str,
        profile_key: str,
        first_seen: str,
    ) -> t.Any:
        return _CustomerRow(
            *attributes,
            profile_key,
            customer_key,
            customer_id,
            tenure_days,
            first_seen,
            first_seen[:10],
        )

    def _add_encoded(
        self, buffer: _DayBuffer, decoded: SimtomRecord, stamp: str, record_id: int
    ) -> None:
        """`_add_transaction` for serialised output: no dict, one encoding of the record.

        The line is byte for byte what serialising `_add_transaction`'s dict with orjson
        gives - the record's fields in the same order, then the same added members - but
        for floats with a positive exponent (msgspec writes 1e16 for orjson's 1e+16).
        """
        attributes = _profile_attributes_of(decoded)
        known = self.tails.get(decoded.customer_id)
        if known is not None and known[0] == attributes and buffer.keep:
            # The common case: a customer already seen with this profile in a kept day.
            tail = known[1]
        else:
            tail = self._customer_tail(buffer, decoded, attributes, stamp)
            if tail is None:
                return
        decoded._timestamp = stamp
        buffer.transactions.append_struct(
            decoded, buffer.ordinal_format % (record_id - buffer.id_base) + tail
        )

    def _customer_tail(
        self, buffer: _DayBuffer, decoded: SimtomRecord, attributes: tuple, stamp: str
    ) -> bytes | None:
        """Keys of a customer profile not met yet (emitted as a customer if new); the
        transaction JSON's closing members for it. None on a day that is not kept."""
        customer_key, profile_key = self.keys.keys_of(decoded.customer_id, attributes)
        first_seen = self.first_seen.setdefault(profile_key, stamp)
        if not buffer.keep:
            return None
        if profile_key not in self.emitted_profiles:
            self.emitted_profiles.add(profile_key)
            row = self._customer_row(
                attributes,
                decoded.customer_id,
                decoded.customer_tenure_days,
                customer_key,
                profile_key,
                first_seen,
            )
            buffer.customers.append_struct(row, self.customer_members)
        # Both keys are hex: nothing to escape.
        tail = (
            f',"customer_key":"{customer_key}","customer_profile_key":"{profile_key}",'
        ).encode() + self.common_members
        # Cached only on a kept day, once the profile is emitted: a cached profile has no
        # customer left to emit and its first_seen is set.
        self.tails[decoded.customer_id] = (attributes, tail)
        return tail

    def _add_transaction(self, buffer: _DayBuffer, parsed: Parsed) -> None:
        record = parsed.record
        attributes = _profile_attributes(record)
        customer_key, profile_key = self.keys.keys_of(record["customer_id"], attributes)
        first_seen = self.first_seen.setdefault(profile_key, record["_timestamp"])
        if not buffer.keep:
            return
        if profile_key not in self.emitted_profiles:
            self.emitted_profiles.add(profile_key)
            row = self._customer_row(
                attributes,
                record["customer_id"],
                record["customer_tenure_days"],
                customer_key,
                profile_key,
                first_seen,
            )
            buffer.customers.append(_asdict(row) | self.customer_run_fields)
        record["transaction_key"] = f"{buffer.key_prefix}{parsed.record_id - buffer.id_base:06d}"
        record["transaction_date"] = record["_timestamp"][:10]
        record["customer_key"] = customer_key
        record["customer_profile_key"] = profile_key
        record.update(self.common)
        if parsed.extra_fields is not None:
            record["extra_fields"] = parsed.extra_fields
        buffer.transactions.append(record)

    def _quarantine_row(self, day: dt.date | None, line: bytes, reason: str) -> dict:
        return {
            "quarantine_key": f"{self.ctx.run_id}:{self.window.start}:{self.number}:{self.lines}",
            "extraction_run_id": self.ctx.run_id,
            "extraction_date": day.isoformat() if day else None,
            "window_start": self.window.start.isoformat(),
            "window_end": self.window.end.isoformat(),
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
            "window_start": self.window.start.isoformat(),
            "window_end": self.window.end.isoformat(),
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
        if self.serialize:
            buffer.customers.close()
            buffer.transactions.close()
        return DayBatch(buffer.day, buffer.customers, buffer.transactions, buffer.quarantine, log)


class WindowExtractor:
    """Requests one window until every day after `skip_through` has been handed on."""

    def __init__(
        self,
        ctx: RunContext,
        window: Window,
        skip_through: dt.date | None,
        deliver: Callable[[DayBatch], None],
    ) -> None:
        self.ctx = ctx
        self.window = window
        self.skip_through = skip_through
        self.deliver = deliver
        first = window.start
        if skip_through is not None and skip_through >= first:
            first = skip_through + ONE_DAY
        self.first_incomplete = first
        self._empty_from: dt.date | None = None

    def body(self, start: dt.date, end: dt.date) -> dict:
        """The request body for `start`..`end` (volume of `start` under a volume profile)."""
        volume, _ = self.ctx.volume(start)
        body: dict = {
            "start_date": start.isoformat(),
            "end_date": end.isoformat(),
            "base_daily_volume": volume,
        }
        if self.ctx.settings.seed is not None:
            body["seed"] = self.ctx.settings.seed
        return body

    def _hand_on(self, batches: list[DayBatch]) -> None:
        for batch in batches:
            if batch.day >= self.first_incomplete:
                self.deliver(batch)
                self.first_incomplete = batch.day + ONE_DAY

    def run(self) -> None:
        """Extract the window; raise RetriesExhausted, SimtomAPIError or Cancelled."""
        settings = self.ctx.settings
        window = self.window
        # The first request is the whole aligned window, even when a resumed run has some
        # of its days already: the same body returns the same records and keys.
        request_start = window.start
        number = 0
        failures = 0
        while self.first_incomplete <= window.end:
            if self.ctx.cancelled.is_set():
                raise Cancelled
            number += 1
            body = self.body(request_start, window.end)
            before = self.first_incomplete
            try:
                self._attempt(body, number)
                return
            except TransientError as exc:
                error = exc
            if self.first_incomplete > before:
                failures = 0
            failures += 1
            if self.first_incomplete > window.end:
                return
            if failures > settings.max_retries:
                raise RetriesExhausted(
                    f"window {window.start}..{window.end}: gave up after {failures} failed "
                    f"attempts in a row at {self.first_incomplete} (max_retries="
                    f"{settings.max_retries}); last error: {error}"
                )
            delay = backoff_delay(
                failures,
                settings.retry_backoff_seconds,
                settings.retry_backoff_max_seconds,
                error.retry_after,
                self.ctx.rng,
            )
            self.ctx.logger.warning(
                "Window %s..%s attempt %d failed (%s); retrying from %s in %.1f s",
                window.start,
                window.end,
                number,
                error,
                self.first_incomplete,
                delay,
            )
            if self.ctx.cancelled.wait(delay):
                raise Cancelled
            request_start = self.first_incomplete

    def _attempt(self, body: dict, number: int) -> None:
        """One request; returns when the window is done, raises TransientError otherwise."""
        requested_at = utc_now()
        attempt = _Attempt(self.ctx, self.window, body, number, self.skip_through, requested_at)
        try:
            with self.ctx.client.stream(body, self.ctx.cancelled) as lines:
                feed = attempt.feed
                for batch in lines.batches():
                    for line in batch:
                        if not line:  # the blank line after every record: counted, no more
                            attempt.lines += 1
                            continue
                        completed = feed(line)
                        if completed:
                            self._hand_on(completed)
        finally:
            self.ctx.unknown_fields.update(attempt.parser.unknown_fields)
        if self.ctx.cancelled.is_set():
            raise Cancelled
        if attempt.buffer.day == attempt.request_end and attempt.nonblank:
            # Ended cleanly on the window's last day.
            self._hand_on(attempt.finish_through_end())
            return
        if attempt.nonblank == 0:
            # An empty answer is believed only when asking again gives the same: a server
            # restarting behind a proxy can answer 200 with nothing.
            if self._empty_from == attempt.request_start:
                self._hand_on(attempt.finish_through_end())
                return
            self._empty_from = attempt.request_start
            raise TransientError(
                f"no records for {attempt.request_start}..{attempt.request_end}; asking again "
                "to confirm the days are empty"
            )
        self._empty_from = None
        last = attempt.buffer.day
        if self._nothing_after(last, attempt.request_end):
            self._hand_on(attempt.finish_through_end())
            return
        raise TransientError(
            f"response ended after {last} although {attempt.request_end} was requested"
        )

    def _nothing_after(self, last: dt.date, end: dt.date) -> bool:
        """Whether simtom has no records for last+1..end: is an early clean end genuine?

        A clean end before the window's last day is either a truncated body or trailing
        days without records (tiny volumes). Asking for just the remaining days tells them
        apart: an empty answer means they are empty; any record means the body was cut.
        """
        body = self.body(last + ONE_DAY, end)
        with self.ctx.client.stream(body, self.ctx.cancelled) as lines:
            for line in lines:
                if line.strip():
                    return False
        return True
