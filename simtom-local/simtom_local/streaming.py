"""A stream response's body: day batches or live records, paced, sent as HTTP chunks."""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone

from . import calendar
from .engine import RequestStream
from .faults import Faults, LineFaults, RequestFaults
from .generator import clock_strings
from .validation import StreamConfig
from .volume import day_count

DEFAULT_RATE_PER_SECOND = 1.0  # current-date mode without rate_per_second
CHUNK_BYTES = 256 * 1024


class ClientGone(Exception):
    """The client disconnected, or the server is stopping: stop work for this request."""


class ChunkWriter:
    """Writes record lines as HTTP chunks, applying line faults and abrupt drops."""

    def __init__(
        self,
        connection: socket.socket,
        write: Callable[[bytes], object],
        decided: RequestFaults,
        faults: Faults,
    ) -> None:
        self.connection = connection
        self.write = write
        self.drop_after = decided.drop_after
        self.drop_mid_line = decided.drop_mid_line
        self.line_faults = LineFaults(faults) if faults.touches_lines else None
        self.records = 0

    def _chunks(self, data: bytes) -> None:
        view = memoryview(data)
        for start in range(0, len(view), CHUNK_BYTES):
            piece = view[start : start + CHUNK_BYTES]
            self.write(b"%X\r\n%s\r\n" % (len(piece), piece))

    def send(self, lines: list[str]) -> None:
        if self.line_faults is not None:
            self.line_faults.apply(lines, self.records)
        if self.drop_after is not None and self.records + len(lines) >= self.drop_after:
            keep = self.drop_after - self.records
            text = "".join(lines[:keep])
            if self.drop_mid_line and keep < len(lines):
                text += lines[keep][: len(lines[keep]) // 2]
            if text:
                self._chunks(text.encode())
            self.records += keep
            self._drop()
        if lines:
            self._chunks("".join(lines).encode())
        self.records += len(lines)

    def _drop(self) -> None:
        """Close the socket mid-body: no terminating chunk, as a crashed proxy would."""
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
        raise ClientGone(f"dropped after {self.records} records (fault)")

    def finish(self) -> None:
        if self.drop_after is not None and self.records >= self.drop_after:
            self._drop()
        self.write(b"0\r\n\r\n")


class BodySender:
    """Generates a request's batches and hands them to its writer, paced."""

    def __init__(
        self, connection: socket.socket, stopping: threading.Event, pace_seconds: float
    ) -> None:
        self.connection = connection
        self.stopping = stopping
        self.pace_seconds = pace_seconds

    def historical(self, stream: RequestStream, config: StreamConfig, writer: ChunkWriter) -> None:
        """One batch per day of start_date..end_date, pace_seconds apart."""
        assert config.start_date is not None and config.end_date is not None
        clock = clock_strings()
        total = (config.end_date - config.start_date).days + 1
        volume = config.base_daily_volume
        for index in range(total):
            day = config.start_date + timedelta(days=index)
            stress = calendar.economic_stress(
                config.drift_type, config.drift_strength, index, total, day
            )

            def make_lines(day: date = day, stress: float = stress) -> list[str]:
                rng = calendar.day_random(stream.seed_token, day, volume)
                seed = stream.seed_token if config.seed is None else config.seed
                count = day_count(seed, day, volume)
                prefix = f"{day.isoformat()}T"
                stamps = [prefix + clock[s] for s in calendar.day_seconds(rng, count)]
                return stream.generator.lines(stamps, stress)

            last = index == total - 1
            writer.send(stream.batch(day.isoformat(), make_lines, last))
            if index < total - 1 and self.pace_seconds > 0:
                self.pause(self.pace_seconds)
            elif self.stopping.is_set():
                raise ClientGone("server stopping")

    def live(self, stream: RequestStream, config: StreamConfig, writer: ChunkWriter) -> None:
        """Current-date mode: records stamped now, at rate_per_second, up to max_records."""
        rate = config.rate_per_second or DEFAULT_RATE_PER_SECOND
        limit = config.max_records
        begun = time.monotonic()
        sent = 0
        while limit is None or sent < limit:
            due = int((time.monotonic() - begun) * rate) + 1
            if limit is not None:
                due = min(due, limit)
            if due > sent:
                now = datetime.now(timezone.utc).replace(tzinfo=None)
                stamp = now.isoformat(timespec="seconds")
                stamps = [stamp] * (due - sent)
                last = limit is not None and due >= limit
                batch = stream.batch("live", lambda s=stamps: stream.generator.lines(s), last)
                writer.send(batch)
                sent = due
            if limit is not None and sent >= limit:
                break
            self.pause(max(0.0, begun + sent / rate - time.monotonic()))

    def pause(self, seconds: float) -> None:
        """Sleep between batches, noticing a client that hangs up meanwhile."""
        deadline = time.monotonic() + seconds
        sock = self.connection
        stopping = self.stopping
        while True:
            if stopping.is_set():
                raise ClientGone("server stopping")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            readable, _, _ = select.select([sock], [], [], min(remaining, 0.1))
            if readable:
                try:
                    peeked = sock.recv(1, socket.MSG_PEEK)
                except OSError:
                    peeked = b""
                if not peeked:
                    raise ClientGone("client disconnected")
                # The client sent data (a pipelined request): just wait out the pause.
                stopping.wait(max(0.0, deadline - time.monotonic()))
                return
