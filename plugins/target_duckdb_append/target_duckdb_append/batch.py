"""A BATCH message's files: checked to be local, readable JSON-lines before any is loaded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import unquote, urlparse

from target_duckdb_append.errors import LoadError

COMPRESSIONS = ("none", "gzip")


@dataclass(frozen=True)
class BatchFile:
    """One file of a BATCH manifest; extracted_at is when the tap finished writing it."""

    path: Path
    compression: str
    extracted_at: datetime


def _local_path(url: str) -> Path:
    parsed = urlparse(url)
    if parsed.scheme not in ("", "file"):
        raise LoadError(f"batch file {url}: only local files (file://) can be loaded")
    return Path(unquote(parsed.path))


def _mtime_utc(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).replace(tzinfo=None)


def batch_files(message: dict, stream: str) -> list[BatchFile]:
    """The files a BATCH message names, in manifest order."""
    encoding = message.get("encoding") or {}
    fmt, compression = encoding.get("format"), encoding.get("compression") or "none"
    if fmt != "jsonl" or compression not in COMPRESSIONS:
        raise LoadError(
            f"stream '{stream}': BATCH encoding {fmt}/{compression} is not supported: "
            "expected format jsonl with compression none or gzip"
        )
    manifest = message.get("manifest")
    if not isinstance(manifest, list):
        raise LoadError(f"stream '{stream}': BATCH message without a 'manifest' list")
    files = []
    for url in manifest:
        path = _local_path(url)
        try:
            extracted_at = _mtime_utc(path)
            with open(path, "rb"):
                pass
        except OSError as exc:
            raise LoadError(
                f"stream '{stream}': batch file {path} cannot be read: {exc.strerror}"
            ) from exc
        files.append(BatchFile(path, compression, extracted_at))
    return files
