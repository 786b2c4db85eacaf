"""How the benchmarks name the processes of a pipeline they sample."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.processes import TreeSampler  # noqa: E402


class _Exiting:
    """What psutil shows of a process caught while it exits: no command line, and the
    name Linux keeps for it, cut to 15 characters."""

    def cmdline(self) -> list[str]:
        return []

    def name(self) -> str:
        return "target-duckdb-append"[:15]


def test_an_exiting_process_keeps_its_label() -> None:
    assert TreeSampler.label(_Exiting()) == "target-duckdb-append"


def test_a_running_process_is_labelled_by_its_command_line(tmp_path: Path) -> None:
    script = tmp_path / "target-duckdb-append"
    script.write_text("import time\ntime.sleep(30)\n")
    process = subprocess.Popen([sys.executable, str(script)])
    try:
        running = psutil.Process(process.pid)
        # Until the child has exec'd, its command line is still its parent's.
        deadline = time.monotonic() + 30
        while str(script) not in running.cmdline() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert TreeSampler.label(running) == "target-duckdb-append"
    finally:
        process.kill()
        process.wait()
