"""`simtom-local` in its own process, so the server never shares a GIL with what is measured."""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.request
from pathlib import Path

import psutil

from bench.project import SIMTOM_LOCAL, BenchError, require

# simtom-local logs one line per request: '... "POST /stream/bnpl" 200 1.234s <window>
# records=N complete'.
_SENT = re.compile(r'"POST /stream/bnpl[^"]*" 200 \S+ \S+ records=(\d+) complete')


class SimtomProcess:
    """`simtom-local` in its own process on a free loopback port."""

    def __init__(
        self, workdir: Path, pace_seconds: float = 0.0, records_per_second: float | None = None
    ) -> None:
        self.workdir = workdir
        self.pace_seconds = pace_seconds
        self.records_per_second = records_per_second
        self.process: subprocess.Popen | None = None
        self.url = ""

    def __enter__(self) -> SimtomProcess:
        require(SIMTOM_LOCAL)
        self.workdir.mkdir(parents=True, exist_ok=True)
        port_file = self.workdir / "simtom-local.port"
        port_file.unlink(missing_ok=True)
        self._log = log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                str(SIMTOM_LOCAL),
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--port-file",
                str(port_file),
                "--pace",
                str(self.pace_seconds),
                *(
                    ["--records-per-second", str(self.records_per_second)]
                    if self.records_per_second
                    else []
                ),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while not port_file.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"simtom-local did not start; see {self.log_path}")
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{int(port_file.read_text())}"
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()

    def requests(self) -> list[dict]:
        """The stream request bodies the server received, in order."""
        with urllib.request.urlopen(f"{self.url}/_requests", timeout=30) as response:
            return json.loads(response.read())

    @property
    def log_path(self) -> Path:
        return self.workdir / "simtom-local.log"

    def _wait_until_logged(self) -> None:
        """Wait (up to 10 s) until every request received has its log line: a client can
        see the end of a body a moment before the server logs it."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            logged = self.log_path.read_bytes().count(b'"POST /stream/')
            if logged >= len(self.requests()):
                return
            time.sleep(0.1)

    def log_mark(self) -> int:
        """A position in the server's request log, for `records_sent(since=...)`.

        After the log lines of every earlier request, so a response that ended just before
        the mark is not counted after it.
        """
        self._wait_until_logged()
        return self.log_path.stat().st_size

    def records_sent(self, since: int = 0) -> int:
        """Records the server streamed in complete responses logged after `since`.

        The server's own count, independent of the tap and the loader.
        """
        self._wait_until_logged()
        with self.log_path.open("rb") as log:
            log.seek(since)
            text = log.read().decode(errors="replace")
        return sum(int(match) for match in _SENT.findall(text))

    def cpu_seconds(self) -> float:
        """CPU time the server process used so far."""
        assert self.process is not None
        times = psutil.Process(self.process.pid).cpu_times()
        return times.user + times.system
