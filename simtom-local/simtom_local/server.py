"""The local simtom as an object: start it on a background thread, steer its faults.

How requests are answered lives in ``handler`` (routing), ``streaming`` (response bodies)
and ``engine`` (the generation state requests share).
"""

from __future__ import annotations

import contextlib
import json
import math
import socket
import threading
from typing import Any

from .engine import Engine
from .faults import Faults, FaultState, RequestFaults
from .handler import HTTPServer


class SimtomServer:
    """A simtom-compatible server on a background thread.

    `pace_seconds` is the pause between the days of one response; `records_per_second`
    (None: as fast as it goes) the generation rate of the whole server, shared by all
    requests as simtom's one core is (engine.py).

    >>> with SimtomServer() as server:  # doctest: +SKIP
    ...     requests.post(f"{server.url}/stream/bnpl", json={...}, stream=True)
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        pace_seconds: float = 0.0,
        faults: Faults | None = None,
        records_per_second: float | None = None,
    ) -> None:
        if pace_seconds < 0:
            raise ValueError(f"pace_seconds: expected seconds >= 0, got {pace_seconds}")
        if records_per_second is not None and not 0 < records_per_second < math.inf:
            raise ValueError(
                f"records_per_second: expected a number > 0 (or None for no limit), "
                f"got {records_per_second}"
            )
        self.host = host
        self.pace_seconds = float(pace_seconds)
        self.records_per_second = records_per_second
        self._fault_state = FaultState(faults)
        self.stopping = threading.Event()
        self.engine = Engine(records_per_second, self.stopping)
        self._requests: list[Any] = []
        self._requests_lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._httpd = HTTPServer((host, port), self)
        self.port: int = self._httpd.server_address[1]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    # --- faults and received requests -------------------------------------------------------

    @property
    def faults(self) -> Faults:
        return self._fault_state.faults

    def decide_faults(self) -> RequestFaults:
        """The faults of the stream request arriving now (counts it)."""
        return self._fault_state.for_request()

    def set_faults(self, faults: Faults) -> None:
        """Replace the fault switches; their counters start again from zero."""
        self._fault_state.set(faults)

    @property
    def requests(self) -> list[Any]:
        """Bodies of the stream requests received so far (parsed JSON, else the raw text)."""
        with self._requests_lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._requests_lock:
            self._requests.clear()

    @property
    def batch_log(self) -> list[tuple[int, str, int]]:
        """(request number, day or "live", records) of each batch, in generation order."""
        with self.engine.lock:
            return list(self.engine.batch_log)

    @property
    def generation_spans(self) -> list[tuple[int, int, float, float]]:
        """(request number, records, monotonic start, end) of each batch's generation."""
        with self.engine.lock:
            return list(self.engine.generation_spans)

    def record_request(self, raw: bytes) -> None:
        """Keep a stream request's body for ``GET /_requests``."""
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        with self._requests_lock:
            self._requests.append(body)

    def track_connection(self, connection: socket.socket, opened: bool) -> None:
        """Note an open connection, so that ``stop`` can close it."""
        with self._requests_lock:
            if opened:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> SimtomServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.1},
                name=f"simtom-local:{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, end streams in progress and close every connection."""
        self.stopping.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()
        with self._requests_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> SimtomServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
