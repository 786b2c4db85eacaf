"""Singer output that keeps up with simtom's stream.

The only module that turns records into bytes: RECORD messages on stdout and the lines of
BATCH files alike (`json_lines`).

The SDK's default writer builds a message object per record, serialises it with simplejson
and flushes stdout after every message; at tens of thousands of records per second that
dominates the run. Here a day's records of a stream are serialised with msgspec (the
tap's structs) or orjson (dicts) into a few large buffers of RECORD lines - the JSON the
SDK message would give - each written at once; stdout is flushed at every other message,
so a STATE never reaches the target ahead of the records it covers.
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
# floats; it omits the + of a positive exponent, the same number).
_encode_lines = msgspec.json.Encoder().encode_lines


def dumps(value: t.Any) -> bytes:
    """orjson, with the SDK encoder for values orjson rejects (from stream maps, say)."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return serialize_json(value).encode()


def json_lines(
    records: list, prefix: bytes = b"", suffix: bytes = b"\n"
) -> Iterator[bytes | memoryview]:
    """`prefix + JSON + suffix` for every record, joined into buffers of CHUNK_RECORDS.

    `records` are the tap's structs (encoded by msgspec) or dicts (by orjson, with the
    SDK encoder for what orjson rejects).
    """
    separator = suffix + prefix
    for start in range(0, len(records), CHUNK_RECORDS):
        chunk = records[start : start + CHUNK_RECORDS]
        if isinstance(chunk[0], msgspec.Struct):
            body = _encode_lines(chunk)  # one JSON line per record, each ending with \n
            if separator == b"\n":
                yield body
                continue
            # JSON text never holds a raw newline: each one ends a record, the last one
            # gives a separator whose prefix is cut off.
            yield prefix
            body = body.replace(b"\n", separator)
            yield memoryview(body)[: len(body) - len(prefix)]
            continue
        try:
            body = separator.join(map(orjson.dumps, chunk))
        except TypeError:
            body = separator.join(map(dumps, chunk))
        yield prefix + body + suffix


def as_dicts(records: list) -> list[dict]:
    """`records` as dicts, for the SDK's per-record transformations (stream maps)."""
    if records and isinstance(records[0], msgspec.Struct):
        return [msgspec.structs.asdict(record) for record in records]
    return records


def record_lines(
    stream: str, records: list, time_extracted: dt.datetime, version: int | None = None
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
