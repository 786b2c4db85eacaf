"""Writing a results file that several pytest-xdist workers of one run fill together.

Each worker knows only the rows of the tests it ran. Under xdist the workers of one run
share PYTEST_XDIST_TESTRUNUID: a worker merges its rows into a file that run already
wrote (under a lock), and replaces a file an earlier run left. Without xdist the file is
simply written.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any


def _merge(earlier: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    ours = {row["test"] for row in document["rows"] if "test" in row}
    merged = {**earlier, **document}
    merged["rows"] = [
        row for row in earlier.get("rows", []) if row.get("test") not in ours
    ] + document["rows"]
    if "tests" in document:
        merged["tests"] = dict(sorted({**earlier.get("tests", {}), **document["tests"]}.items()))
    if "suite_seconds" in document:
        merged["suite_seconds"] = max(earlier.get("suite_seconds", 0), document["suite_seconds"])
    if "machine" in earlier and "machine" in document:
        # The run's start is the first worker's.
        merged["machine"] = {
            **document["machine"],
            "load_average_at_start": earlier["machine"].get("load_average_at_start"),
        }
    return merged


def write_results(path: Path, document: dict[str, Any]) -> None:
    """Write DOCUMENT ({"rows": [...], ...}) to PATH, merged with this run's other workers."""
    path.parent.mkdir(parents=True, exist_ok=True)
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if run is None:
        path.write_text(json.dumps(document, indent=2, default=str) + "\n")
        return
    document = {**document, "xdist_run": run}
    with path.with_name(path.name + ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            earlier = json.loads(path.read_text()) if path.is_file() else {}
        except json.JSONDecodeError:
            earlier = {}
        if earlier.get("xdist_run") == run:
            document = _merge(earlier, document)
        temporary = path.with_name(path.name + f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(document, indent=2, default=str) + "\n")
        temporary.replace(path)
