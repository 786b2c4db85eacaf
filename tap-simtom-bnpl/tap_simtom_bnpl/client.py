"""HTTP access to simtom's streaming endpoint.

The response body is read as a stream of lines - never whole - because a window can hold
hundreds of thousands of records. Failures are sorted into transient ones (connection
errors, timeouts, 429, 5xx, a body that breaks off), which the caller retries with backoff,
and fatal ones (any other 4xx), which stop the run with the server's message on one line.
"""

from __future__ import annotations

import contextlib
import email.utils
import random
import threading
import time
import typing as t
from collections.abc import Callable, Iterator

import orjson
import requests
import urllib3

from tap_simtom_bnpl.keys import canonical_body
from tap_simtom_bnpl.parsing import MAX_LINE_BYTES

if t.TYPE_CHECKING:
    from tap_simtom_bnpl.settings import Settings

GENERATOR = "bnpl"
_READ_BYTES = 1 << 20
_MESSAGE_LIMIT = 300
_BODY_READ_ERRORS: tuple[type[BaseException], ...] = (
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    OSError,
)


class TransientError(Exception):
    """A failure worth retrying; `retry_after` is the server's Retry-After in seconds."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SimtomAPIError(Exception):
    """A request the server refused (4xx other than 429): retrying cannot help."""


def one_line(text: str, limit: int = _MESSAGE_LIMIT) -> str:
    """Collapse whitespace and cut long text so a message stays on one line."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def server_message(body: bytes) -> str:
    """The human part of an error body: FastAPI's `detail` (string or pydantic list)."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return one_line(body.decode("utf-8", "replace")) or "(empty body)"
    detail = payload.get("detail", payload) if isinstance(payload, dict) else payload
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict):
                loc = [str(p) for p in item.get("loc", []) if p != "body"]
                where = ".".join(loc)
                parts.append(f"{where}: {item.get('msg', item)}" if where else str(item.get("msg")))
            else:
                parts.append(str(item))
        return one_line("; ".join(parts))
    return one_line(str(detail))


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


def backoff_delay(
    failures: int, base: float, cap: float, retry_after: float | None, rng: random.Random
) -> float:
    """Exponential backoff with jitter; a Retry-After is a floor, not a suggestion."""
    ceiling = min(cap, base * 2 ** max(0, failures - 1))
    delay = ceiling / 2 + rng.random() * ceiling / 2
    if retry_after is not None:
        delay = retry_after + rng.random() * min(base, retry_after * 0.1 + 0.001)
    return delay


class ResponseLines:
    """Lines of one streamed response; `complete` tells whether the body ended cleanly."""

    def __init__(self, response: requests.Response, cancelled: threading.Event) -> None:
        self._response = response
        self._cancelled = cancelled
        self.complete = False

    def __iter__(self) -> Iterator[bytes]:
        for lines in self.batches():
            yield from lines

    def _chunks(self) -> Iterator[bytes]:
        """The body as it arrives: each read takes what is there, up to _READ_BYTES."""
        # urllib3's read1 under requests: one call per read instead of requests' and
        # urllib3's generators per chunk.
        read = self._response.raw.read1
        cancelled = self._cancelled
        while chunk := read(_READ_BYTES, decode_content=True):
            if cancelled.is_set():
                raise Cancelled
            yield chunk

    def batches(
        self, hold: Callable[[Iterator[bytes]], Iterator[bytes]] | None = None
    ) -> Iterator[list[bytes]]:
        """The body's complete lines (without newlines), a list per read of the socket.

        Each read takes what has arrived without waiting for more: a day is handed on as
        soon as its last line is in, whatever the pace of the server. `hold` may hold the
        body's chunks back (a window read ahead of its turn, `turns.Turn.chunks`); a read
        error it holds back is raised here all the same.
        """
        chunks = self._chunks() if hold is None else hold(self._chunks())
        pending = b""
        discarding = False
        try:
            for chunk in chunks:  # one split per read instead of one per line
                lines = chunk.split(b"\n")
                if pending:
                    lines[0] = pending + lines[0]
                pending = lines.pop()
                if discarding and lines:
                    del lines[0]  # the tail of an over-long line
                    discarding = False
                if len(pending) > MAX_LINE_BYTES:
                    # Hand the parser enough to quarantine it, then skip to the next newline.
                    if not discarding:
                        lines.append(pending[: MAX_LINE_BYTES + 1])
                    discarding = True
                    pending = b""
                if lines:
                    yield lines
        except _BODY_READ_ERRORS as exc:
            raise TransientError(f"response body broke off: {one_line(str(exc), 160)}") from exc
        if pending and not discarding:
            raise TransientError("response body ended in the middle of a line")
        self.complete = True


class Cancelled(Exception):
    """The run is stopping; abandon the request."""


class SimtomClient:
    """Posts window requests to simtom and yields the response lines."""

    def __init__(self, settings: Settings, user_agent: str) -> None:
        self._settings = settings
        self._url = f"{settings.api_url}/stream/{GENERATOR}"
        self._headers = {
            "Content-Type": "application/json",
            "Accept": "text/plain, text/event-stream",
            "User-Agent": user_agent,
        }
        if settings.api_key:
            self._headers[settings.api_key_header] = settings.api_key
        self._local = threading.local()

    @property
    def url(self) -> str:
        """The streaming endpoint."""
        return self._url

    def _session(self) -> requests.Session:
        # requests.Session is not thread-safe; each worker thread gets its own.
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    @contextlib.contextmanager
    def stream(self, body: dict, cancelled: threading.Event) -> Iterator[ResponseLines]:
        """POST `body` and yield its lines; raise TransientError or SimtomAPIError."""
        timeout = self._settings.request_timeout
        span = f"{body.get('start_date')}..{body.get('end_date')}"
        try:
            response = self._session().post(
                self._url,
                data=canonical_body(body),
                headers=self._headers,
                stream=True,
                timeout=(timeout, timeout),
            )
        except requests.Timeout as exc:
            raise TransientError(
                f"request for {span} timed out: {one_line(str(exc), 160)}"
            ) from exc
        except (requests.ConnectionError, urllib3.exceptions.HTTPError, OSError) as exc:
            raise TransientError(
                f"request for {span} failed to connect: {one_line(str(exc), 160)}"
            ) from exc
        with contextlib.closing(response):
            status = response.status_code
            if status == 429 or status >= 500:
                raise TransientError(
                    f"HTTP {status} for {span}: {self._error_text(response)}",
                    parse_retry_after(response.headers.get("Retry-After")),
                )
            if status >= 300:
                raise SimtomAPIError(
                    f"simtom API refused POST {self._url} for {span} with HTTP {status}: "
                    f"{self._error_text(response)}"
                )
            yield ResponseLines(response, cancelled)

    @staticmethod
    def _error_text(response: requests.Response) -> str:
        try:
            body = response.raw.read(16384, decode_content=True) or b""
        except _BODY_READ_ERRORS:
            body = b""
        return server_message(body) if body else (response.reason or "(empty body)")
