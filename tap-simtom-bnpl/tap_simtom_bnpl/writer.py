"""Singer output that keeps up with simtom's stream.

The SDK's default writer builds a message object per record, serialises it with simplejson
and flushes stdout after every message; at tens of thousands of records per second that
dominates the run. Here a day's records of a stream are serialised with orjson (msgspec for
decoded transactions) into a few large buffers of RECORD lines - the JSON the SDK message
would give - each written at once; stdout is flushed at every other message, so a STATE
never reaches the target ahead of the records it covers.
"""

from __future__ import annotations

import datetime as dt
import sys
import typing as t
from collections.abc import Callable, Iterable, Iterator

import msgspec
import orjson
from singer_sdk.singerlib.encoding import SimpleSingerWriter
from singer_sdk.singerlib.encoding.simple import Message, RecordMessage
from singer_sdk.singerlib.json import serialize_json

# Records serialised per write: large enough that a write costs nothing per record, small
# enough that the buffer stays a few MB whatever the day's volume.
CHUNK_RECORDS = 2000
# msgspec writes what orjson would for the records' values (strings, integers, booleans,
# floats; it omits the + of a positive exponent, the same number), straight into a buffer.
_encode_into = msgspec.json.Encoder().encode_into


def dumps(value: t.Any) -> bytes:
    """orjson, with the SDK encoder for values orjson rejects (from stream maps, say)."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return serialize_json(value).encode()


class JsonLines:
    """Records serialised as they come, packed into a few large buffers of JSON lines.

    Lines are appended to one growing buffer, sealed as bytes every PACK_BYTES: holding a
    day as thousands of small bytes objects (each orjson result keeps a buffer of about
    16 KB whatever its length) would cost ten times the JSON.
    """

    PACK_BYTES = 1 << 18

    def __init__(self) -> None:
        self.chunks: list[bytearray] = []  # JSON lines, each line ending with a newline
        self._buffer = bytearray()
        self._count = 0

    def append(self, record: dict) -> None:
        """Serialise `record` as one more line."""
        buffer = self._buffer
        buffer += dumps(record)
        buffer += b"\n"
        self._count += 1
        if len(buffer) >= self.PACK_BYTES:
            self._pack()

    def append_struct(self, struct: t.Any, members: bytes) -> None:
        """One more line: `struct` as JSON, its closing brace replaced by `members`.

        `members` are more of the object's members, then the closing brace and newline: a
        record's own fields and the tap's, one encoding each.
        """
        buffer = self._buffer
        _encode_into(struct, buffer, -1)
        buffer[-1:] = members
        self._count += 1
        if len(buffer) >= self.PACK_BYTES:
            self._pack()

    def _pack(self) -> None:
        if self._buffer:
            self.chunks.append(self._buffer)  # handed on as it is: no copy
            self._buffer = bytearray()

    def close(self) -> JsonLines:
        """Pack what is pending; return self."""
        self._pack()
        return self

    def __len__(self) -> int:
        return self._count


def json_lines(
    records: list | JsonLines, prefix: bytes = b"", suffix: bytes = b"\n"
) -> Iterator[bytes | memoryview]:
    """`prefix + JSON + suffix` for every record, joined into buffers of CHUNK_RECORDS.

    `records` are dicts, or a closed JsonLines already serialised (then the buffers
    may be memoryviews: one copy of the records instead of four).
    """
    separator = suffix + prefix
    if isinstance(records, JsonLines):
        for chunk in records.chunks:
            if separator == b"\n":
                yield chunk
            else:
                # JSON text never holds a raw newline: each one ends a record. The last
                # one gives a separator whose prefix is cut off.
                yield prefix
                body = chunk.replace(b"\n", separator)
                yield memoryview(body)[: len(body) - len(prefix)]
        return
    for start in range(0, len(records), CHUNK_RECORDS):
        chunk = records[start : start + CHUNK_RECORDS]
        try:
            body = separator.join(map(orjson.dumps, chunk))
        except TypeError:
            body = separator.join(map(dumps, chunk))
        yield prefix + body + suffix


def record_lines(
    stream: str, records: list | JsonLines, time_extracted: dt.datetime, version: int | None = None
) -> Iterator[bytes | memoryview]:
    """RECORD messages of `records`, as the SDK's RecordMessage.to_dict() serialises them."""
    prefix = b'{"type":"RECORD","stream":' + orjson.dumps(stream) + b',"record":'
    suffix = b"" if version is None else b',"version":' + orjson.dumps(version)
    suffix += b',"time_extracted":' + orjson.dumps(time_extracted) + b"}\n"
    return json_lines(records, prefix, suffix)


def stdout_bytes() -> Callable[[Iterable[bytes | memoryview]], None]:
    """A function writing byte buffers to stdout, after what was written to it as text.

    stdout's binary buffer when it has one; decoded text otherwise (a test capturing
    stdout in a StringIO).
    """
    out = sys.stdout
    buffer = getattr(out, "buffer", None)
    if buffer is None:
        return lambda chunks: out.writelines(bytes(chunk).decode() for chunk in chunks)

    def write(chunks: Iterable[bytes | memoryview]) -> None:
        out.flush()  # text written before must come first
        for chunk in chunks:
            buffer.write(chunk)

    return write


class FastSingerWriter(SimpleSingerWriter):
    """orjson serialisation; stdout flushed at SCHEMA/STATE/other messages only."""

    def serialize_message(self, message: Message) -> str:
        """Serialise `message` as one JSON line (SDK encoder for values orjson rejects)."""
        return dumps(message.to_dict()).decode()

    def write_message(self, message: Message) -> None:
        """Write `message` to stdout."""
        sys.stdout.write(self.format_message(message) + "\n")
        if not isinstance(message, RecordMessage):
            sys.stdout.flush()
