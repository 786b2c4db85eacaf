"""Bare HTTP against the local server: capture a response's bytes, or fetch and discard them.

No tap code here: these are the references the tap and the pipeline are measured against.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable
from typing import BinaryIO
from urllib.parse import urlsplit

import orjson

_READ_BYTES = 1 << 20


def stream_body(api_url: str, body: dict, sink: Callable[[bytes], None]) -> None:
    """POST `body` to /stream/bnpl and hand every chunk of the response to `sink`."""
    parts = urlsplit(api_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=600)
    try:
        connection.request(
            "POST",
            "/stream/bnpl",
            body=json.dumps(body),
            headers={"Content-Type": "application/json"},
        )
        response = connection.getresponse()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status} for {body}: {response.read()[:300]!r}")
        while chunk := response.read1(_READ_BYTES):
            sink(chunk)
    finally:
        connection.close()


def capture(api_url: str, body: dict) -> bytes:
    """The whole response body of one request."""
    chunks: list[bytes] = []
    stream_body(api_url, body, chunks.append)
    return b"".join(chunks)


class RecordCounter:
    """Counts records in a chunked body without parsing it: each ends with a blank line."""

    def __init__(self) -> None:
        self.records = 0
        self.bytes = 0
        self._last = b""

    def __call__(self, chunk: bytes) -> None:
        if not chunk:
            return
        self.bytes += len(chunk)
        self.records += chunk.count(b"\n\n")
        # "}\n" | "\ndata: ..." : the terminator split across two chunks.
        if self._last == b"\n" and chunk[:1] == b"\n" and not chunk.startswith(b"\n\n"):
            self.records += 1
        self._last = chunk[-1:]


def count_records(body: bytes) -> int:
    """Records in a captured body."""
    return sum(1 for line in body.split(b"\n") if line.startswith(b"data: "))


def parse_and_reserialize(bodies: list[bytes], sink: BinaryIO) -> tuple[int, float, float]:
    """The raw limit: every record parsed and written as a JSON line with orjson.

    Returns (records, wall seconds, CPU seconds). Splitting the body into lines is part of
    the timed work, as it is for the tap.
    """
    loads, dumps = orjson.loads, orjson.dumps
    write = sink.write
    records = 0
    started, cpu_started = time.perf_counter(), time.process_time()
    for body in bodies:
        for line in body.split(b"\n"):
            if line.startswith(b"data: "):
                write(dumps(loads(line[6:])) + b"\n")
                records += 1
    sink.flush()
    return records, time.perf_counter() - started, time.process_time() - cpu_started
