"""The generation state all requests share: one lock, one batch at a time.

Concurrency follows simtom's single-threaded server: connections are accepted in parallel,
but record generation happens under one global lock, one day-batch at a time, so
concurrent requests interleave day by day. Sending a batch happens outside the lock (like
an event loop's buffered writes), so a slow reader never blocks the other requests.

Speed: simtom generates about 5-6k records/s on its one core, this server many times that.
With ``records_per_second`` set, a batch of n records holds the lock for at least n / rate
seconds (the generation time padded with a sleep), so all requests together get that rate,
as they share simtom's one core; the pause between a request's days stays outside the lock.

Determinism: a day's count (``volume.day_count``) and timestamps (``calendar.day_random``)
come from (seed, date, base_daily_volume) only; record contents from a stream seeded by the
seed and the canonical validated body. simtom shares one random state between requests;
here each request owns its content stream, and a request re-draws it (``perturb``)
whenever another request generated a batch since its own last one, or was in flight when
it arrived. So a request alone is byte-identical run after run, while concurrent requests
keep their counts and timestamps but get different contents, as observed on simtom.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from collections.abc import Callable

from .generator import ResponseGenerator
from .seeds import derive_seed
from .validation import StreamConfig


class Engine:
    """State shared by all requests: the generation lock and the batch bookkeeping."""

    def __init__(
        self, records_per_second: float | None = None, stopping: threading.Event | None = None
    ) -> None:
        self.lock = threading.Lock()
        self.records_per_second = records_per_second
        self.stopping = stopping or threading.Event()
        self.batches = 0
        self.active = 0
        self.next_request_no = 0
        self.batch_log: deque[tuple[int, str, int]] = deque(maxlen=100_000)
        # (request number, records, monotonic start, monotonic end) of each batch's turn
        # under the lock, the rate's padding included.
        self.generation_spans: deque[tuple[int, int, float, float]] = deque(maxlen=100_000)

    def hold(self, began: float, records: int) -> None:
        """Keep the lock (held by the caller) until `records` at the rate are due."""
        if not self.records_per_second:
            return
        due = began + records / self.records_per_second
        while (remaining := due - time.monotonic()) > 0:
            if self.stopping.wait(remaining):
                return  # stopping: the request ends at its next check, no need to wait


class RequestStream:
    """One stream request's view of the engine (its generator and its batch mark)."""

    def __init__(self, engine: Engine, config: StreamConfig) -> None:
        self.engine = engine
        if config.seed is not None:
            self.seed_token = str(config.seed)
            content_seed = derive_seed("simtom-local", "content", config.seed, config.canonical)
        else:
            self.seed_token = "nonce:" + secrets.token_hex(8)
            content_seed = derive_seed("simtom-local", "content", self.seed_token)
        catalog_token = self.seed_token if config.seed is not None else "unseeded"
        self.generator = ResponseGenerator(content_seed, catalog_token)
        with engine.lock:
            self.request_no = engine.next_request_no
            engine.next_request_no += 1
            # Someone else in flight already shares the state with us.
            self.mark = -1 if engine.active else engine.batches
            engine.active += 1

        self.open = True

    def _leave(self) -> None:
        if self.open:
            self.open = False
            self.engine.active -= 1

    def close(self) -> None:
        with self.engine.lock:
            self._leave()

    def batch(
        self, label: str, make_lines: Callable[[], list[str]], last: bool = False
    ) -> list[str]:
        """Generate one batch under the global lock (simtom's single thread).

        After its last batch a request no longer shares the random state: leaving then,
        not when its last bytes are written, keeps a request that follows it "alone".
        """
        engine = self.engine
        with engine.lock:
            began = time.monotonic()
            if engine.batches != self.mark:
                self.generator.perturb()
            lines = make_lines()
            engine.hold(began, len(lines))
            engine.generation_spans.append((self.request_no, len(lines), began, time.monotonic()))
            engine.batches += 1
            self.mark = engine.batches
            engine.batch_log.append((self.request_no, label, len(lines)))
            if last:
                self._leave()
        return lines
