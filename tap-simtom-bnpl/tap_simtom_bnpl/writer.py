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
import tempfile
import typing as t
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

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
_encoder = msgspec.json.Encoder()
_encode_lines, _encode_into = _encoder.encode_lines, _encoder.encode_into


def dumps(value: t.Any) -> bytes:
    """orjson, with the SDK encoder for values orjson rejects (from stream maps, say)."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return serialize_json(value).encode()


class EncodedRecords:
    """A day's records of a stream, encoded as they arrive, kept in an unnamed file.

    The container the day driver fills when the records go out as they are (no stream
    map, no deselected field): a record encoded right after it is parsed is still in the
    CPU cache, and its struct is freed at once; holding a day of structs for the main
    thread to encode costs about a quarter more per record. Lines are appended to one
    growing buffer, sealed every PACK_BYTES and written to an unnamed file (opened at the
    first seal, in `directory`, else TMPDIR): a day is held until it is complete, and its
    size grows with base_daily_volume, so in memory the tap's size would too. The file has
    no name, so its space is freed when the object is (or the process ends, however).
    """

    PACK_BYTES = 1 << 18

    def __init__(self, directory: Path | None = None) -> None:
        self._directory = directory
        self._file: t.IO[bytes] | None = None
        self._sealed: list[int] = []  # sizes of the buffers in the file, in order
        self._buffer = bytearray()  # JSON lines, each line ending with a newline
        self._count = 0

    def append(self, record: msgspec.Struct) -> None:
        """Encode `record` as one more line."""
        buffer = self._buffer
        _encode_into(record, buffer, -1)
        buffer += b"\n"
        self._count += 1
        if len(buffer) >= self.PACK_BYTES:
            if self._file is None:
                # Lives as long as the records: closed (and its space freed) with them.
                self._file = tempfile.TemporaryFile(  # noqa: SIM115
                    dir=self._directory, prefix="tap-simtom-bnpl-"
                )
            self._file.write(buffer)
            self._sealed.append(len(buffer))
            buffer.clear()

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[bytes | bytearray]:
        """The buffers of JSON lines (whole lines each), the pending one included."""
        if self._file is not None:
            self._file.seek(0)
            for size in self._sealed:
                yield self._file.read(size)
        if self._buffer:
            yield self._buffer


def json_lines(
    records: list | EncodedRecords, prefix: bytes = b"", suffix: bytes = b"\n"
) -> Iterator[bytes | memoryview]:
    """`prefix + JSON + suffix` for every record, joined into buffers of CHUNK_RECORDS.

    `records` are encoded already (EncodedRecords), the tap's structs (encoded by
    msgspec), or dicts (by orjson, with the SDK encoder for what orjson rejects).
    """
    if isinstance(records, EncodedRecords):
        for body in records:
            yield from _framed(body, prefix, suffix)
        return
    separator = suffix + prefix
    for start in range(0, len(records), CHUNK_RECORDS):
        chunk = records[start : start + CHUNK_RECORDS]
        if isinstance(chunk[0], msgspec.Struct):
            yield from _framed(_encode_lines(chunk), prefix, suffix)
            continue
        try:
            body = separator.join(map(orjson.dumps, chunk))
        except TypeError:
            body = separator.join(map(dumps, chunk))
        yield prefix + body + suffix


def _framed(lines: bytes, prefix: bytes, suffix: bytes) -> Iterator[bytes | memoryview]:
    """JSON lines, each framed as `prefix + JSON + suffix`."""
    separator = suffix + prefix
    if separator == b"\n":
        yield lines
        return
    # JSON text never holds a raw newline: each one ends a record. The last one gives a
    # separator whose prefix is cut off.
    yield prefix
    body = lines.replace(b"\n", separator)
    yield memoryview(body)[: len(body) - len(prefix)]


def as_dicts(records: list) -> list[dict]:
    """`records` as dicts, for the SDK's per-record transformations (stream maps)."""
    if records and isinstance(records[0], msgspec.Struct):
        return [msgspec.structs.asdict(record) for record in records]
    return records


def record_lines(
    stream: str,
    records: list | EncodedRecords,
    time_extracted: dt.datetime,
    version: int | None = None,
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
