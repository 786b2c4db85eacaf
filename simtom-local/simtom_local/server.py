"""The HTTP side of the local simtom: endpoints, streaming, pacing, faults.

Concurrency follows simtom's single-threaded server: connections are accepted in parallel,
but record generation happens under one global lock, one day-batch at a time, so
concurrent requests interleave day by day. Sending a batch happens outside the lock (like
an event loop's buffered writes), so a slow reader never blocks the other requests.

Determinism: a day's count (``volume.day_count``) and timestamps (``calendar.day_random``)
come from (seed, date, base_daily_volume) only; record contents from a stream seeded by the
seed and the canonical validated body. simtom shares one random state between requests;
here each request owns its content stream, and a request re-draws it (``perturb``)
whenever another request generated a batch since its own last one, or was in flight when
it arrived. So a request alone is byte-identical run after run, while concurrent requests
keep their counts and timestamps but get different contents, as observed on simtom.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import select
import socket
import sys
import threading
import time
from collections import deque
from datetime import date, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from . import calendar
from .faults import Faults, FaultState, LineFaults, RequestFaults
from .generator import ResponseGenerator, clock_strings, derive_seed
from .validation import BodyInvalid, StreamConfig, parse_json_body, validate_body
from .volume import day_count

log = logging.getLogger("simtom_local")

VERSION = "0.1.0"
GENERATOR = "bnpl"
DEFAULT_RATE_PER_SECOND = 1.0  # current-date mode without rate_per_second
CHUNK_BYTES = 256 * 1024
_GENERATORS_JSON = resources.files(__package__).joinpath("generators.json").read_bytes()


class _ClientGone(Exception):
    """The client disconnected, or the server is stopping: stop work for this request."""


class _Engine:
    """State shared by all requests: the generation lock and the batch bookkeeping."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.batches = 0
        self.active = 0
        self.next_request_no = 0
        self.batch_log: deque[tuple[int, str, int]] = deque(maxlen=100_000)


class _Stream:
    """One stream request's view of the engine (its generator and its batch mark)."""

    def __init__(self, engine: _Engine, config: StreamConfig) -> None:
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

    def batch(self, label: str, make_lines, last: bool = False) -> list[str]:
        """Generate one batch under the global lock (simtom's single thread).

        After its last batch a request no longer shares the random state: leaving then,
        not when its last bytes are written, keeps a request that follows it "alone".
        """
        engine = self.engine
        with engine.lock:
            if engine.batches != self.mark:
                self.generator.perturb()
            lines = make_lines()
            engine.batches += 1
            self.mark = engine.batches
            engine.batch_log.append((self.request_no, label, len(lines)))
            if last:
                self._leave()
        return lines


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: SimtomServer) -> None:
        self.app = app
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up (a killed or timed-out tap) is routine for a public API,
        # not a server fault: one line at debug instead of socketserver's traceback.
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            log.debug("%s: connection closed by the client (%s)", client_address[0], error)
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = f"simtom-local/{VERSION}"
    timeout = 300  # idle keep-alive connections and stuck writes give up eventually
    server: _HTTPServer

    # --- plumbing ---------------------------------------------------------------------------

    def setup(self) -> None:
        super().setup()
        self.server.app._track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.app._track(self.connection, False)

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request is logged by _log_request instead

    def _log_request(self, status: int, started: float, extra: str = "") -> None:
        log.info(
            '%s "%s %s" %d %.3fs%s',
            self.client_address[0],
            self.command,
            self.path,
            status,
            time.monotonic() - started,
            f" {extra}" if extra else "",
        )

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    # --- routing ----------------------------------------------------------------------------

    def do_GET(self) -> None:
        started = time.monotonic()
        path = urlsplit(self.path).path
        app = self.server.app
        if path == "/":
            status, payload = 200, {"status": "healthy", "version": VERSION}
            payload["generators_available"] = 1
            self._send_json(status, payload)
        elif path == "/generators":
            status = 200
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(_GENERATORS_JSON)))
            self.end_headers()
            self.wfile.write(_GENERATORS_JSON)
        elif path == "/_requests":
            status = 200
            self._send_json(200, app.requests)
        elif path == "/_faults":
            status = 200
            self._send_json(200, app.faults.to_json())
        elif path.startswith("/stream/"):
            status = 405
            self._send_json(405, {"detail": "Method Not Allowed"}, {"allow": "POST"})
        else:
            status = 404
            self._send_json(404, {"detail": "Not Found"})
        self._log_request(status, started)

    def do_POST(self) -> None:
        started = time.monotonic()
        path = urlsplit(self.path).path
        raw = self._read_body()
        if path.startswith("/stream/"):
            self._stream(path[len("/stream/") :], raw, started)
            return
        if path == "/_faults":
            try:
                faults = Faults.from_json(json.loads(raw or b"{}"))
            except (ValueError, TypeError) as exc:
                self._send_json(422, {"detail": str(exc).splitlines()[0]})
                self._log_request(422, started)
                return
            self.server.app.set_faults(faults)
            self._send_json(200, faults.to_json())
            self._log_request(200, started, "faults set")
            return
        status = 405 if path in ("/", "/generators", "/_requests") else 404
        detail = "Method Not Allowed" if status == 405 else "Not Found"
        self._send_json(status, {"detail": detail})
        self._log_request(status, started)

    def do_DELETE(self) -> None:
        started = time.monotonic()
        self._read_body()
        if urlsplit(self.path).path == "/_requests":
            self.server.app.clear_requests()
            self._send_json(200, [])
            self._log_request(200, started)
            return
        self._send_json(405, {"detail": "Method Not Allowed"})
        self._log_request(405, started)

    def do_PUT(self) -> None:
        self._read_body()
        self._send_json(405, {"detail": "Method Not Allowed"})

    do_PATCH = do_PUT

    # --- streaming --------------------------------------------------------------------------

    def _stream(self, name: str, raw: bytes, started: float) -> None:
        app = self.server.app
        app._record_request(raw)
        decided = app._fault_state.for_request()
        if decided.stall_seconds:
            app._stopping.wait(decided.stall_seconds)
        if decided.fail_status is not None:
            headers = {}
            if decided.retry_after is not None:
                headers["retry-after"] = f"{decided.retry_after:g}"
            detail = "Too Many Requests" if decided.fail_status == 429 else "Internal Server Error"
            self._send_json(decided.fail_status, {"detail": detail}, headers)
            self._log_request(decided.fail_status, started, "injected failure")
            return
        try:
            config = validate_body(parse_json_body(raw))
        except BodyInvalid as exc:
            self._send_json(422, {"detail": exc.detail})
            self._log_request(422, started, exc.detail[0]["msg"])
            return
        if name != GENERATOR:
            self._send_json(404, {"detail": f"Unknown generator: {name}"})
            self._log_request(404, started)
            return

        self.send_response(200)
        self.send_header("content-type", "text/plain; charset=utf-8")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        stream = _Stream(app.engine, config)
        writer = _ChunkWriter(self, decided, app.faults)
        outcome = "complete"
        try:
            if config.historical:
                self._historical(stream, config, writer)
            else:
                self._live(stream, config, writer)
            writer.finish()
        except _ClientGone as exc:
            outcome = str(exc)
            self.close_connection = True
        except (ConnectionError, TimeoutError, OSError):
            outcome = "client disconnected"
            self.close_connection = True
        except Exception:  # a bug here must break the body off, never end it cleanly
            log.exception("stream failed after %d records", writer.records)
            outcome = "server error"
            self.close_connection = True
        finally:
            stream.close()
        window = f"{config.start_date}..{config.end_date}" if config.historical else "current-date"
        self._log_request(200, started, f"{window} records={writer.records} {outcome}")

    def _historical(self, stream: _Stream, config: StreamConfig, writer: _ChunkWriter) -> None:
        assert config.start_date is not None and config.end_date is not None
        app = self.server.app
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
            if index < total - 1 and app.pace_seconds > 0:
                self._pause(app.pace_seconds)
            elif app._stopping.is_set():
                raise _ClientGone("server stopping")

    def _live(self, stream: _Stream, config: StreamConfig, writer: _ChunkWriter) -> None:
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
            self._pause(max(0.0, begun + sent / rate - time.monotonic()))

    def _pause(self, seconds: float) -> None:
        """Sleep between batches, noticing a client that hangs up meanwhile."""
        deadline = time.monotonic() + seconds
        sock = self.connection
        stopping = self.server.app._stopping
        while True:
            if stopping.is_set():
                raise _ClientGone("server stopping")
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
                    raise _ClientGone("client disconnected")
                # The client sent data (a pipelined request): just wait out the pause.
                stopping.wait(max(0.0, deadline - time.monotonic()))
                return


class _ChunkWriter:
    """Writes record lines as HTTP chunks, applying line faults and abrupt drops."""

    def __init__(self, handler: _Handler, decided: RequestFaults, faults: Faults) -> None:
        self.handler = handler
        self.write = handler.wfile.write
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
        sock = self.handler.connection
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        raise _ClientGone(f"dropped after {self.records} records (fault)")

    def finish(self) -> None:
        if self.drop_after is not None and self.records >= self.drop_after:
            self._drop()
        self.write(b"0\r\n\r\n")


class SimtomServer:
    """A simtom-compatible server on a background thread.

    >>> with SimtomServer() as server:  # doctest: +SKIP
    ...     requests.post(f"{server.url}/stream/bnpl", json={...}, stream=True)
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        pace_seconds: float = 0.0,
        faults: Faults | None = None,
    ) -> None:
        if pace_seconds < 0:
            raise ValueError(f"pace_seconds: expected seconds >= 0, got {pace_seconds}")
        self.host = host
        self.pace_seconds = float(pace_seconds)
        self._fault_state = FaultState(faults)
        self.engine = _Engine()
        self._requests: list[Any] = []
        self._requests_lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._httpd = _HTTPServer((host, port), self)
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

    def _record_request(self, raw: bytes) -> None:
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        with self._requests_lock:
            self._requests.append(body)

    def _track(self, connection: socket.socket, opened: bool) -> None:
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
        self._stopping.set()
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
