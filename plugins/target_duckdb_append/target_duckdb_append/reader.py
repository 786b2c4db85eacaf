"""Reading Singer messages: orjson over raw bytes, keeping each line for the RECORD spool.

The SDK's reader parses every line with json.loads and a Decimal per float; a RECORD line
here is parsed once (orjson) to find its stream and then written to the spool unchanged,
so DuckDB, not Python, converts its values.
"""

from __future__ import annotations

import sys
import typing as t
from collections import Counter, defaultdict

import orjson
from singer_sdk.singerlib.encoding.base import GenericSingerReader

from target_duckdb_append.errors import LoadError


class FastSingerReader(GenericSingerReader[bytes]):
    """Singer messages from stdin as bytes; `current_line` is the line being handled."""

    current_line: bytes = b""
    line_number: int = 0

    @property
    def default_input(self) -> t.IO[bytes]:
        return sys.stdin.buffer

    def deserialize_json(self, line: bytes) -> dict:  # type: ignore[override]
        try:
            message = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise LoadError(f"input line {self.line_number} is not valid JSON ({exc})") from exc
        if not isinstance(message, dict) or "type" not in message:
            raise LoadError(
                f"input line {self.line_number}: expected a Singer message object with a "
                f"'type', got {line[:60]!r}"
            )
        return message

    def process_lines(
        self,
        file_input: t.IO[bytes] | t.IO[str] | None,
        callbacks: dict[str, t.Callable[[dict], None]],
    ) -> t.Counter[str]:
        stats: dict[str, int] = defaultdict(int)
        lines = file_input if file_input is not None else self.default_input
        for line in lines:
            raw = line.encode() if isinstance(line, str) else line
            self.line_number += 1
            if not raw.strip():
                continue
            self.current_line = raw
            message = self.deserialize_json(raw)
            kind = message["type"]
            callback = callbacks.get(kind)
            if callback is None:
                self._process_unknown_message(message)
            else:
                callback(message)
            stats[kind] += 1
        return Counter(**stats)
