"""The day driver: windows in flight, complete days in date order, one STATE per day.

One simtom response feeds all four streams, so the tap does not sync stream by stream as
the SDK would. Up to `max_parallel_requests` windows are extracted by worker threads;
the caller receives complete days strictly in date order. Only the first window in
flight parses its response; the others keep what they receive in a file until their
turn (`turns.Turn`), so memory is that of one window, whatever the windows in flight or
the range.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import queue
import threading
import typing as t
from collections import deque
from collections.abc import Iterable, Iterator

from tap_simtom_bnpl.extract import RunContext, WindowExtractor
from tap_simtom_bnpl.response import DayBatch
from tap_simtom_bnpl.turns import Turn
from tap_simtom_bnpl.windows import Window

_DONE = object()


def _release_free_memory() -> None:
    """Hand the C allocator's free pages back to the system (glibc; elsewhere a no-op).

    A finished window frees its records and caches, but glibc keeps most of the freed
    pages, scattered between live blocks; window after window the resident size creeps up.
    Trimming once per window keeps a year-long run at the size of one window.
    """
    if _malloc_trim is not None:
        _malloc_trim(0)


def _find_malloc_trim() -> t.Callable[[int], int] | None:
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None


_malloc_trim = _find_malloc_trim()


class _WindowJob:
    """A worker thread extracting one window into a queue of day batches."""

    def __init__(
        self, ctx: RunContext, window: Window, skip_through: dt.date | None, *, head: bool
    ) -> None:
        self.window = window
        self.turn = Turn(ctx.spool_directory, ctx.cancelled)
        if head:
            # Granted before the thread starts: the head's first bytes never wait in a file.
            self.turn.grant()
        self._queue: queue.Queue = queue.Queue()
        self._extractor = WindowExtractor(ctx, window, skip_through, self._queue.put, self.turn)
        # Daemon: a signal must be able to end the run without waiting for a socket read.
        self._thread = threading.Thread(
            target=self._run, name=f"window-{window.start}", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        try:
            self._extractor.run()
        except BaseException as exc:  # handed to the consumer, which re-raises it in order
            self._queue.put(exc)
        else:
            self._queue.put(_DONE)

    def batches(self) -> Iterator[DayBatch]:
        """Complete days of this window, in date order, as they become available."""
        while True:
            item = self._queue.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item


def ordered_days(
    ctx: RunContext,
    windows: Iterable[Window],
    skip_through: dt.date | None,
    parallel: int,
) -> Iterator[DayBatch]:
    """Complete days of `windows` in date order, with up to `parallel` windows in flight."""
    pending = iter(windows)
    jobs: deque[_WindowJob] = deque()

    def fill() -> None:
        while len(jobs) < parallel:
            window = next(pending, None)
            if window is None:
                return
            jobs.append(_WindowJob(ctx, window, skip_through, head=not jobs))

    try:
        fill()
        while jobs:
            jobs[0].turn.grant()  # a window read ahead becomes the head
            yield from jobs[0].batches()
            jobs.popleft()
            _release_free_memory()
            fill()
    finally:
        # Stopping early (limit, error, signal): tell the workers to abandon their requests,
        # and wake those waiting for their turn so that they see it.
        ctx.cancelled.set()
        for job in jobs:
            job.turn.grant()


def count_days(start: dt.date, end: dt.date, skip_through: dt.date | None) -> int:
    """Days of `start`..`end` after `skip_through`."""
    first = start if skip_through is None else max(start, skip_through + dt.timedelta(days=1))
    return max(0, (end - first).days + 1)
