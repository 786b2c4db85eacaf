"""Extract one request window into complete day batches, retrying what breaks.

A body that breaks off, or ends early, is retried from the first incomplete day; what was
already complete is never requested again, and what was incomplete is discarded, so
nothing is emitted twice and nothing is lost. Reading one response into days is
`response.ResponseReader`'s job.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import typing as t
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tap_simtom_bnpl.client import (
    Cancelled,
    SimtomClient,
    TransientError,
    backoff_delay,
)
from tap_simtom_bnpl.response import DayBatch, RecordSink, ResponseReader, utc_now
from tap_simtom_bnpl.turns import Turn
from tap_simtom_bnpl.windows import ONE_DAY, Window

if t.TYPE_CHECKING:
    from tap_simtom_bnpl.settings import Settings


class RetriesExhausted(Exception):
    """A window kept failing; the message is one line."""


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
    # What a day's customers and transactions are collected in: a list of the records, or
    # a container from the output side that encodes them as they come (the tap chooses).
    new_records: Callable[[], RecordSink] = list
    # Where windows read ahead of their turn keep what they receive (None: TMPDIR).
    spool_directory: Path | None = None

    def volume(self, day: dt.date) -> tuple[int, str | None]:
        """Volume to request for `day` and its day type (type only with a volume profile)."""
        profile = self.settings.volume_profile
        if profile is None:
            return self.settings.base_daily_volume, None
        return profile.volume(day, self.settings.seed), profile.day_type(day)


class WindowExtractor:
    """Requests one window until every day after `skip_through` has been handed on."""

    def __init__(
        self,
        ctx: RunContext,
        window: Window,
        skip_through: dt.date | None,
        deliver: Callable[[DayBatch], None],
        turn: Turn | None = None,
    ) -> None:
        """`turn`: when the window's response may be parsed (None: at once)."""
        self.ctx = ctx
        self.window = window
        self.turn = turn
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
        attempt = ResponseReader(
            self.ctx, self.window, body, number, self.skip_through, requested_at
        )
        try:
            with self.ctx.client.stream(body, self.ctx.cancelled) as lines:
                feed = attempt.feed
                hold = None if self.turn is None else self.turn.chunks
                for batch in lines.batches(hold):
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
