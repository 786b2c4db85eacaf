"""Sampling profiles (py-spy) of a child process, summarised per thread.

py-spy samples every thread of a process from outside it, so the tap's worker threads (where
responses are read and parsed) show up next to its main thread (where messages are written);
cProfile would see the main thread only. Only on-CPU samples are kept, so a thread's share
of the wall clock says how busy it was, and its top frames say with what.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psutil

from bench.processes import TreeSampler
from bench.project import child_env

RATE_HZ = 100
_LINE_NUMBER = re.compile(r":\d+\)$")
_THREAD = re.compile(r"^thread \((?P<tid>\d+)\)(?:: (?P<name>.*))?$")
# Frames every stack of a thread starts with: they say nothing about the cost.
_TRIVIAL = ("threading.py", "<frozen runpy>", "click/core.py", "<module>")


PY_SPY_MISSING = "not taken: py-spy is not installed (`make bench` installs bench/requirements.txt)"


def py_spy() -> str | None:
    """py-spy beside this interpreter (bench/requirements.txt) or on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def _function(frame: str) -> str:
    # "LineParser._check (tap_simtom_bnpl/parsing.py:164)" -> "LineParser._check (parsing.py)"
    return _LINE_NUMBER.sub(")", frame)


def _thread_group(name: str) -> str:
    # Worker threads are named per window (window-2024-03-04); group them.
    return re.sub(r"-\d{4}-\d{2}-\d{2}$", "-*", name.split(" ")[0]) or "unnamed"


def summarize(raw_path: Path, seconds: float, rate_hz: int = RATE_HZ, top: int = 12) -> dict:
    """Per thread group: share of the wall clock on CPU, top self and inclusive functions."""
    own: dict[str, Counter] = defaultdict(Counter)
    inclusive: dict[str, Counter] = defaultdict(Counter)
    samples: Counter = Counter()
    thread_ids: dict[str, set[str]] = defaultdict(set)
    lines = raw_path.read_text(errors="replace").splitlines()
    # py-spy names a thread only once it has seen its name: take it from any line.
    names: dict[str, str] = {}
    for line in lines:
        head = _THREAD.match(line.split(";", 1)[0])
        if head and head.group("name"):
            names[head.group("tid")] = head.group("name").rsplit(" ", 1)[0]
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        head = _THREAD.match(frames[0])
        if head:
            tid = head.group("tid")
            group = _thread_group(names.get(tid, f"thread-{tid}"))
            thread_ids[group].add(tid)
            frames = frames[1:]
        else:
            group = "process"
        n = int(count)
        samples[group] += n
        if not frames:
            continue
        own[group][_function(frames[-1])] += n
        for function in {_function(frame) for frame in frames}:
            if not any(marker in function for marker in _TRIVIAL):
                inclusive[group][function] += n
    threads: dict[str, Any] = {}
    for group, total in samples.most_common():
        threads[group] = {
            "threads": max(1, len(thread_ids[group])),
            "samples": total,
            # Cores' worth of on-CPU time over the wall clock: 1.0 = one core busy throughout.
            "on_cpu_cores": round(total / max(seconds * rate_hz, 1), 3),
            "top_self": [
                [function, round(n / total, 3)] for function, n in own[group].most_common(top)
            ],
            "top_inclusive": [
                [function, round(n / total, 3)]
                for function, n in inclusive[group].most_common(top + 8)
                if n < total  # a frame on every stack of the thread is a root, not a cost
            ][:top],
        }
    return {
        "tool": "py-spy (on-CPU samples, all threads)",
        "rate_hz": rate_hz,
        "seconds": round(seconds, 1),
        "threads": threads,
    }


def _record_command(tool: str, raw_path: Path) -> list[str]:
    """`py-spy record` sampling every thread at RATE_HZ into `raw_path` (raw format)."""
    return [
        tool,
        "record",
        "--threads",
        "--format",
        "raw",
        "--rate",
        str(RATE_HZ),
        "--output",
        str(raw_path),
    ]


def profile_command(
    argv: Sequence[str],
    raw_path: Path,
    log_path: Path,
    *,
    stdout: Path | None = None,
    env: dict[str, str] | None = None,
) -> dict:
    """Run `argv` under py-spy and summarise it; an error entry without py-spy."""
    tool = py_spy()
    if tool is None:
        return {"error": PY_SPY_MISSING}
    command = [*_record_command(tool, raw_path), "--", *argv]
    with log_path.open("wb") as log, open(stdout or "/dev/null", "wb") as out:
        started = time.perf_counter()
        completed = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=log,
            env=env if env is not None else child_env(),
            check=False,
        )
        seconds = time.perf_counter() - started
    if completed.returncode != 0 or not raw_path.exists():
        return {"error": f"py-spy exited {completed.returncode}; see {log_path}"}
    summary = summarize(raw_path, seconds)
    summary["raw"] = str(raw_path)
    return summary


def profile_tree(
    argv: Sequence[str],
    labels: Sequence[str],
    workdir: Path,
    env: dict[str, str],
    max_seconds: float,
) -> dict:
    """Run `argv` (e.g. `meltano run`) and attach py-spy to its descendants named `labels`.

    Each process is sampled from the moment it appears until it ends (or `max_seconds`).
    Returns {"per_process": {label: summary}}, or an error entry without py-spy.
    """
    tool = py_spy()
    if tool is None:
        return {"error": PY_SPY_MISSING}
    log = (workdir / "profile-run.log").open("wb")
    process = subprocess.Popen(
        list(argv), stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env
    )
    recorders: dict[str, tuple[subprocess.Popen, Path, float]] = {}
    try:
        while process.poll() is None and len(recorders) < len(labels):
            try:
                children = psutil.Process(process.pid).children(recursive=True)
            except psutil.NoSuchProcess:
                break
            for child in children:
                try:
                    label = TreeSampler.label(child)
                    command = child.cmdline()
                except psutil.Error:
                    continue
                # An empty command line is a process exiting; Meltano's catalog discovery
                # runs the tap once before the real run.
                if not command or "--discover" in command:
                    continue
                if label in labels and label not in recorders:
                    raw = workdir / f"{label}.pyspy.txt"
                    command = [
                        *_record_command(tool, raw),
                        "--duration",
                        str(max(1, int(max_seconds))),
                        "--pid",
                        str(child.pid),
                    ]
                    recorder = subprocess.Popen(command, stdout=log, stderr=log)
                    recorders[label] = (recorder, raw, time.perf_counter())
            time.sleep(0.05)
        process.wait()
    finally:
        log.close()
    summaries = {}
    for label, (recorder, raw, started) in recorders.items():
        recorder.wait()
        seconds = time.perf_counter() - started
        if raw.exists():
            summaries[label] = summarize(raw, min(seconds, max_seconds))
            summaries[label]["raw"] = str(raw)
        else:
            summaries[label] = {"error": f"py-spy wrote no samples; see {workdir}/profile-run.log"}
    return {"per_process": summaries}
