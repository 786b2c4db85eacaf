"""HTTP routing of the local simtom: simtom's endpoints, the control endpoints, streaming."""

from __future__ import annotations

import json
import logging
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .engine import RequestStream
from .faults import Faults
from .streaming import BodySender, ChunkWriter, ClientGone
from .validation import BodyInvalid, parse_json_body, validate_body

if TYPE_CHECKING:
    from .server import SimtomServer

log = logging.getLogger("simtom_local")

VERSION = "0.1.0"
GENERATOR = "bnpl"
_GENERATORS_JSON = resources.files(__package__).joinpath("generators.json").read_bytes()


class HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: SimtomServer) -> None:
        self.app = app
        super().__init__(address, Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up (a killed or timed-out tap) is routine for a public API,
        # not a server fault: one line at debug instead of socketserver's traceback.
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            log.debug("%s: connection closed by the client (%s)", client_address[0], error)
            return
        super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = f"simtom-local/{VERSION}"
    timeout = 300  # idle keep-alive connections and stuck writes give up eventually
    server: HTTPServer

    # --- plumbing ---------------------------------------------------------------------------

    def setup(self) -> None:
        super().setup()
        self.server.app.track_connection(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.app.track_connection(self.connection, False)

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
        app.record_request(raw)
        decided = app.decide_faults()
        if decided.stall_seconds:
            app.stopping.wait(decided.stall_seconds)
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
        stream = RequestStream(app.engine, config)
        writer = ChunkWriter(self.connection, self.wfile.write, decided, app.faults)
        sender = BodySender(self.connection, app.stopping, app.pace_seconds)
        outcome = "complete"
        try:
            if config.historical:
                sender.historical(stream, config, writer)
            else:
                sender.live(stream, config, writer)
            writer.finish()
        except ClientGone as exc:
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
