"""Windows read ahead of their turn keep what they receive in a file, not in memory.

Days are emitted in date order, so only the first of the windows in flight (the head)
has days that can go out now. Parsing the others ahead would only hold their records,
customers and keys in memory until their turn, so memory would grow with the windows in
flight (docs/tuning.md has the measurement). Their requests still run (simtom pauses between the
days of a response, and concurrent requests overlap those pauses), but what they receive
goes, as it arrives, to an unnamed file in the spool directory. When a window's turn
comes, the file is read back through the same line splitting and parsing as a live
body, and the live body (if still arriving) continues from there. So one window is
parsed at a time, whatever the windows in flight, and the tap's memory is that of one.

The file has no name from the start, so the system frees its space when it is closed:
once read back, when the run stops, and in any case when the process ends, however it
ends (success, failure, Ctrl-C, kill -9).
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from tap_simtom_bnpl.client import Cancelled

READ_BACK_BYTES = 1 << 20


class Turn:
    """Whether a window's response may be parsed now: granted when it becomes the head."""

    def __init__(self, directory: Path | None, cancelled: threading.Event) -> None:
        """`directory`: where a body read ahead waits (None: the system's TMPDIR)."""
        self._directory = directory
        self._cancelled = cancelled
        self._granted = threading.Event()

    def grant(self) -> None:
        """The window's days are next (or the run stops: a waiting reader then gives up)."""
        self._granted.set()

    def _wait(self) -> None:
        while not self._granted.wait(1.0):
            if self._cancelled.is_set():
                raise Cancelled
        if self._cancelled.is_set():
            raise Cancelled

    def chunks(self, body: Iterator[bytes]) -> Iterator[bytes]:
        """The chunks of `body`, handed on only once the turn is granted.

        Before that they go to an unnamed file as they arrive. A read error is held back
        until what arrived before it has been handed on: the window then retries from its
        first incomplete day, as with a live body.
        """
        if self._granted.is_set():
            yield from body
            return
        error: Exception | None = None
        with tempfile.TemporaryFile(dir=self._directory, prefix="tap-simtom-bnpl-") as held:
            try:
                for chunk in body:
                    held.write(chunk)
                    if self._granted.is_set():
                        break
                else:
                    body = iter(())
            except Cancelled:
                raise
            except Exception as exc:  # raised after what arrived before it
                error = exc
                body = iter(())
            self._wait()
            held.seek(0)
            while data := held.read(READ_BACK_BYTES):
                yield data
        if error is not None:
            raise error
        yield from body
