"""Running the tap in tests: in process (fast) or as a real subprocess (exit codes, signals)."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import typing as t
from collections import defaultdict
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path

from tap_simtom_bnpl.tap import TapSimtomBnpl

STREAMS = ("transactions", "customers", "extraction_log", "quarantine")
PRIMARY_KEYS = {
    "transactions": "transaction_key",
    "customers": "customer_profile_key",
    "extraction_log": "extraction_key",
    "quarantine": "quarantine_key",
}
TAP_EXECUTABLE = str(Path(sys.executable).parent / "tap-simtom-bnpl")
# The quick-start range: Monday 2024-11-25 .. Sunday 2024-12-01 (Thanksgiving,
# Black Friday and a weekend inside).
START, END = "2024-11-25", "2024-12-01"
DAYS = ["2024-11-25", "2024-11-26", "2024-11-27", "2024-11-28", "2024-11-29", "2024-11-30", END]


@dataclass
class TapOutput:
    """The Singer messages of one run, in order."""

    messages: list[dict]
    stderr: str = ""
    returncode: int = 0
    _records: dict[str, list[dict]] | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, text: str, **kwargs) -> TapOutput:
        return cls([json.loads(line) for line in text.splitlines() if line.strip()], **kwargs)

    def records(self, stream: str) -> list[dict]:
        if self._records is None:
            self._records = defaultdict(list)
            for message in self.messages:
                if message["type"] == "RECORD":
                    self._records[message["stream"]].append(message["record"])
        return self._records.get(stream, [])

    def keys(self, stream: str) -> list[str]:
        return [record[PRIMARY_KEYS[stream]] for record in self.records(stream)]

    @property
    def states(self) -> list[dict]:
        return [m["value"] for m in self.messages if m["type"] == "STATE"]

    @property
    def final_state(self) -> dict:
        return self.states[-1]

    def committed(self) -> TapOutput:
        """What a Singer target commits: messages up to the last STATE."""
        last = max((i for i, m in enumerate(self.messages) if m["type"] == "STATE"), default=-1)
        return TapOutput(self.messages[: last + 1])


def bookmark_days(state: dict) -> dict[str, str]:
    return {
        name: value["replication_key_value"] for name, value in state.get("bookmarks", {}).items()
    }


def run_tap(config: dict, state: dict | None = None, catalog: dict | None = None) -> TapOutput:
    """Run a full sync in this process and return its messages."""
    # The SDK installs SIGINT/SIGTERM handlers on construction; keep pytest's own.
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        tap = TapSimtomBnpl(config=config, state=state, catalog=catalog)
        buffer = io.StringIO()
        with redirect_stdout(buffer):
            tap.sync_all()
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
    return TapOutput.parse(buffer.getvalue())


def write_json(path: Path, payload: dict) -> Path:
    path.write_text(json.dumps(payload))
    return path


@dataclass
class CliResult:
    """Exit code and output of the tap executable."""

    returncode: int
    stdout: str
    stderr: str

    def output(self) -> TapOutput:
        return TapOutput.parse(self.stdout)


def cli(
    tmp_path: Path,
    *args: str,
    config: dict | None = None,
    state: dict | None = None,
    catalog: dict | None = None,
    timeout: float = 120,
) -> CliResult:
    """Run the installed `tap-simtom-bnpl` executable."""
    command = [TAP_EXECUTABLE, *args]
    if config is not None:
        command += ["--config", str(write_json(tmp_path / "config.json", config))]
    if state is not None:
        command += ["--state", str(write_json(tmp_path / "state.json", state))]
    if catalog is not None:
        command += ["--catalog", str(write_json(tmp_path / "catalog.json", catalog))]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, env=dict(os.environ), check=False
    )
    return CliResult(done.returncode, done.stdout, done.stderr)


def error_lines(stderr: str) -> list[str]:
    """The ERROR log lines of a run."""
    return [line for line in stderr.splitlines() if "ERROR" in line]


def simtom_config(server: t.Any, **overrides) -> dict:
    """Small, fast settings for the quick-start range against `server`."""
    config = {
        "api_url": server.url,
        "start_date": START,
        "end_date": END,
        "base_daily_volume": 60,
        "seed": 42,
        "retry_backoff_seconds": 0.01,
        "retry_backoff_max_seconds": 0.05,
        "max_retries": 3,
        "request_timeout": 30,
    }
    config.update(overrides)
    return config
