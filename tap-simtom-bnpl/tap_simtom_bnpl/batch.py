"""BATCH mode: each complete day's records of a stream as one JSON-lines file.

With the SDK's standard `batch_config` setting the tap writes, for every complete day,
one file per stream holding exactly the `record` objects RECORD mode would have sent (one
per line), closes it, announces it with a BATCH message, and only then writes the day's
STATE. Files are written under a temporary `.part` name and renamed when complete, so a
file named in a manifest is always whole.

Names are `<prefix>tap-simtom-bnpl-<run id>-<YYYYMMDD>-<stream>.jsonl[.gz]`: unique per
run, day and stream. Cleanup rule: the loader deletes a file once its rows are committed;
whatever a killed run leaves behind (unloaded files, `.part` files) is deleted by the next
run that writes to the same location, at its start. That is safe because a run
re-extracts every day after the last committed STATE, so no earlier file is still needed,
and because runs sharing a location never overlap: a run holds an exclusive lock on
`<prefix>tap-simtom-bnpl.lock` while it writes, and a second run is refused.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import gzip
import os
import re
import typing as t
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from tap_simtom_bnpl.sdk_compat import BaseBatchFileEncoding, BatchConfig

FILE_STEM = "tap-simtom-bnpl-"
LOCK_NAME = "tap-simtom-bnpl.lock"
# The files live only until the loader has read them: the fastest gzip level is plenty.
GZIP_LEVEL = 1
_LEFTOVER = re.compile(r"\.(jsonl|jsonl\.gz)(\.part)?$")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


class BatchLocationBusy(Exception):
    """Another live run writes batch files to the same location; the message is one line."""


@dataclass(frozen=True)
class BatchTarget:
    """Where and how batch files are written (validated `batch_config`)."""

    directory: Path
    name_prefix: str
    compression: str

    @property
    def encoding(self) -> BaseBatchFileEncoding:
        """The encoding announced in BATCH messages."""
        return BaseBatchFileEncoding(format="jsonl", compression=self.compression)

    @property
    def location(self) -> str:
        """Directory and name prefix, for messages."""
        return str(self.directory / self.name_prefix)


def _local_path(root: str) -> Path:
    """The directory of a root the schema accepted: a file:// URL or an absolute path."""
    parsed = urlparse(root)
    return Path(unquote(parsed.path) if parsed.scheme == "file" else root)


def batch_target_from_config(raw: t.Mapping[str, t.Any] | None) -> BatchTarget | None:
    """Where BATCH mode writes, from the validated `batch_config` (None: RECORD mode).

    CONFIG_SCHEMA narrows the SDK's setting to what the tap writes (JSON lines in a local
    directory) and fills in its defaults; the SDK's own parsing then gives it its meaning.
    """
    if raw is None:
        return None
    config = BatchConfig.from_dict(dict(raw))
    head, _, name_prefix = (config.storage.prefix or "").rpartition("/")
    directory = _local_path(config.storage.root)
    compression = config.encoding.compression or "none"
    return BatchTarget(directory / head if head else directory, name_prefix, compression)


class BatchFiles:
    """Writes a run's batch files; holds the location's lock from `open` to `close`."""

    def __init__(self, target: BatchTarget, run_id: str) -> None:
        self.target = target
        self.run_id = run_id
        self._lock: t.IO | None = None
        self._day: dt.date | None = None
        self._names: set[str] = set()  # names used for self._day

    def open(self) -> int:
        """Lock the location and delete earlier runs' leftovers; return how many."""
        target = self.target
        target.directory.mkdir(parents=True, exist_ok=True)
        lock = (target.directory / f"{target.name_prefix}{LOCK_NAME}").open("a")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise BatchLocationBusy(
                f"batch_config.storage: another tap-simtom-bnpl run is writing batch files to "
                f"{target.location}; runs sharing a batch location must not overlap"
            ) from None
        self._lock = lock
        stem = f"{target.name_prefix}{FILE_STEM}"
        removed = 0
        for path in target.directory.iterdir():
            if path.name.startswith(stem) and _LEFTOVER.search(path.name) and path.is_file():
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def close(self) -> None:
        """Release the location."""
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def write(self, stream: str, day: dt.date, chunks: Iterable[bytes]) -> str:
        """Write one file from `chunks` of JSON lines; return its file:// URL once complete."""
        target = self.target
        if day != self._day:
            self._day = day
            self._names.clear()
        safe_stream = _UNSAFE.sub("_", stream)
        name = f"{target.name_prefix}{FILE_STEM}{self.run_id}-{day:%Y%m%d}-{safe_stream}"
        unique, number = name, 1
        while unique in self._names:  # two stream maps with one alias: still one file each
            number += 1
            unique = f"{name}-{number}"
        self._names.add(unique)
        final = target.directory / (
            f"{unique}.jsonl.gz" if target.compression == "gzip" else f"{unique}.jsonl"
        )
        part = final.with_name(final.name + ".part")
        with part.open("wb") as raw:
            if target.compression == "gzip":
                with gzip.GzipFile(
                    filename="", mode="wb", fileobj=raw, compresslevel=GZIP_LEVEL, mtime=0
                ) as out:
                    out.writelines(chunks)
            else:
                raw.writelines(chunks)
        os.replace(part, final)
        return final.as_uri()
