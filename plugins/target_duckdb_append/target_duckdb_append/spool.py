"""RECORD lines of one stream, kept in a file until the next commit reads them with DuckDB."""

from __future__ import annotations

import typing as t
from pathlib import Path


class Spool:
    """RECORD lines of one stream since the last flush, as they arrived."""

    def __init__(self, directory: Path, stream: str) -> None:
        self.path = directory / f"{stream.replace('/', '_')}.jsonl"
        self.handle: t.BinaryIO | None = None
        self.rows = 0
        self.first_record = 1  # this spool's first RECORD, counted over the whole run

    def write(self, line: bytes) -> None:
        if self.handle is None:
            self.handle = open(self.path, "wb", buffering=1 << 20)  # noqa: SIM115
        self.handle.write(line if line.endswith(b"\n") else line + b"\n")
        self.rows += 1

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None

    def reset(self) -> None:
        """Forget the committed lines: the next RECORD starts a new file."""
        self.close()
        self.path.unlink(missing_ok=True)
        self.first_record += self.rows
        self.rows = 0
