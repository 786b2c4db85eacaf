"""Timed child processes: wall time, exact peak RSS and CPU time; sampled process trees."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from bench.project import ROOT, TAP, BenchError, child_env, require, write_config

# Processes of a pipeline, named by the executable that starts them.
_KNOWN = ("tap-simtom-bnpl", "target-duckdb-append", "dbt", "meltano", "bnpl-quality", "py-spy")
# Linux keeps the first 15 characters of a process's name.
_NAME_LENGTH = 15


def vm_hwm(pid: int) -> int | None:
    """The kernel's peak RSS of a process so far (VmHWM, bytes); None once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return None


class TreeSampler:
    """Samples CPU time and RSS of every process under a root pid, by command name.

    For `meltano run`, whose tap and target are grandchildren nobody here can wait on. A
    process's CPU time is the last value seen, so one that ends between two samples loses
    at most one interval of it.
    """

    def __init__(self, pid: int, interval: float = 0.25) -> None:
        self._root = pid
        self._interval = interval
        self._stop = threading.Event()
        self._started = time.perf_counter()
        self.cpu: dict[int, tuple[str, float]] = {}
        self.peak_rss: dict[str, int] = {}
        # The largest VmHWM of one process of each kind: exact, where peak_rss is sampled
        # and sums the processes of a kind (dbt_invoker and the dbt it starts are both "dbt").
        self.high_water_mark: dict[str, int] = {}
        self.timeline: list[tuple[float, dict[str, int]]] = []
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def label(process: psutil.Process) -> str:
        # A process caught while it exits has no command line left, only its name, which
        # Linux cuts it to 15 characters (the loader's loses "ppend"), so both are matched
        # by that prefix.
        name = process.name()
        for part in [*process.cmdline(), name]:
            for known in _KNOWN:
                if Path(part).name.startswith(known[:_NAME_LENGTH]):
                    return known
        return name

    def _sample(self) -> None:
        try:
            root = psutil.Process(self._root)
            processes = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return
        rss_now: dict[str, int] = {}
        for process in processes:
            try:
                with process.oneshot():
                    label = self.label(process)
                    times = process.cpu_times()
                    rss = process.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
            self.cpu[process.pid] = (label, times.user + times.system)
            rss_now[label] = rss_now.get(label, 0) + rss
            mark = vm_hwm(process.pid)
            if mark is not None:
                self.high_water_mark[label] = max(self.high_water_mark.get(label, 0), mark)
        for label, rss in rss_now.items():
            self.peak_rss[label] = max(self.peak_rss.get(label, 0), rss)
        self.timeline.append((time.perf_counter() - self._started, rss_now))

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def cpu_by_label(self) -> dict[str, float]:
        """CPU seconds per process kind."""
        totals: dict[str, float] = {}
        for label, seconds in self.cpu.values():
            totals[label] = totals.get(label, 0.0) + seconds
        return {label: round(seconds, 2) for label, seconds in sorted(totals.items())}

    def peak_rss_mib(self) -> dict[str, float]:
        """Largest sampled RSS per process kind (MiB)."""
        return {label: round(rss / 2**20, 1) for label, rss in sorted(self.peak_rss.items())}

    def high_water_mark_mib(self) -> dict[str, float]:
        """Peak RSS of the largest process of each kind (VmHWM, MiB)."""
        return {
            label: round(mark / 2**20, 1) for label, mark in sorted(self.high_water_mark.items())
        }

    def rss_mib_at(self, label: str, fractions: Sequence[float]) -> list[float]:
        """RSS of `label` at fractions of the run, to tell a plateau from a steady climb."""
        points = [rss[label] for _, rss in self.timeline if label in rss]
        if not points:
            return []
        return [
            round(points[min(len(points) - 1, int(f * len(points)))] / 2**20, 1) for f in fractions
        ]


@dataclass
class Finished:
    """A child process that ran to its end."""

    argv: list[str]
    returncode: int
    seconds: float
    max_rss_bytes: int
    cpu_seconds: float
    log_path: Path
    sampler: TreeSampler | None = field(default=None, repr=False)

    def check(self) -> Finished:
        """Raise with the tail of the log when the process failed."""
        if self.returncode != 0:
            tail = "\n".join(self.log_path.read_text(errors="replace").splitlines()[-25:])
            raise BenchError(
                f"{Path(self.argv[0]).name} exited {self.returncode}; log {self.log_path}:\n{tail}"
            )
        return self


def run_timed(
    argv: Sequence[str],
    log_path: Path,
    *,
    stdout: Path | None = None,
    env: dict[str, str] | None = None,
    sample: bool = False,
) -> Finished:
    """Run `argv` to its end: wall time, exact peak RSS and CPU time of the child.

    `os.wait4` gives the child's own peak RSS (ru_maxrss, not sampled) and CPU time. With
    `sample`, the whole process tree is also sampled (for grandchildren). stdout goes to
    `stdout` (default /dev/null), stderr to `log_path`; `stdout=log_path` merges them.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log, open(os.devnull, "wb") as devnull:
        out = log if stdout == log_path else (stdout.open("wb") if stdout else devnull)
        try:
            started = time.perf_counter()
            process = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=log,
                env=env if env is not None else child_env(),
                cwd=ROOT,
            )
            sampler = TreeSampler(process.pid) if sample else None
            if sampler is not None:
                with sampler:
                    _, status, usage = os.wait4(process.pid, 0)
            else:
                _, status, usage = os.wait4(process.pid, 0)
            seconds = time.perf_counter() - started
            process.returncode = os.waitstatus_to_exitcode(status)
        finally:
            if out not in (log, devnull):
                out.close()
    return Finished(
        list(argv),
        process.returncode,
        seconds,
        usage.ru_maxrss * 1024,
        usage.ru_utime + usage.ru_stime,
        log_path,
        sampler,
    )


class HighWaterMarks:
    """The kernel's peak RSS of processes (VmHWM), polled until they end.

    wait4's ru_maxrss survives exec: a child's figure is never below the size of the
    process that started it, which here is this one, grown by what it measured before.
    VmHWM belongs to the program's own address space and only grows, so the last value
    read before the process ends is its peak (at most one interval's growth is missed).
    Until the child has exec'd its program it still shows this process's address space
    (subprocess may vfork), so a process still named like this one is not read.
    """

    def __init__(self, pids: Sequence[int], interval: float = 0.05) -> None:
        self.peak = dict.fromkeys(pids, 0)
        self._own_name = Path("/proc/self/comm").read_text().strip()
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _read(self) -> None:
        for pid in self.peak:
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            lines = status.splitlines()
            if lines[0].split(None, 1)[-1] == self._own_name:
                continue
            for line in lines:
                if line.startswith("VmHWM:"):
                    self.peak[pid] = max(self.peak[pid], int(line.split()[1]) * 1024)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._read()

    def __enter__(self) -> HighWaterMarks:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()


def run_piped(
    producer: Sequence[str], consumer: Sequence[str], producer_log: Path, consumer_log: Path
) -> tuple[Finished, Finished]:
    """`producer | consumer`, both children of this process, without Meltano in between.

    Like `run_timed` for each, but the peak RSS is each program's own VmHWM
    (`HighWaterMarks`), not wait4's figure, which would include this process's size. The
    consumer's stdout goes to its log.
    """
    producer_log.parent.mkdir(parents=True, exist_ok=True)
    with producer_log.open("wb") as first_log, consumer_log.open("wb") as second_log:
        started = time.perf_counter()
        second = subprocess.Popen(
            list(consumer),
            stdin=subprocess.PIPE,
            stdout=second_log,
            stderr=second_log,
            env=child_env(),
            cwd=ROOT,
        )
        assert second.stdin is not None
        try:
            first = subprocess.Popen(
                list(producer),
                stdin=subprocess.DEVNULL,
                stdout=second.stdin,
                stderr=first_log,
                env=child_env(),
                cwd=ROOT,
            )
        finally:
            second.stdin.close()  # the producer holds the pipe now; EOF when it ends
        finished = []
        pairs = ((first, producer, producer_log), (second, consumer, consumer_log))
        with HighWaterMarks([first.pid, second.pid]) as marks:
            for process, argv, log in pairs:
                # The last poll before the process exited holds its peak.
                _, status, usage = os.wait4(process.pid, 0)
                process.returncode = os.waitstatus_to_exitcode(status)
                seconds = time.perf_counter() - started
                cpu = usage.ru_utime + usage.ru_stime
                finished.append(Finished(list(argv), process.returncode, seconds, 0, cpu, log))
        for run, process in zip(finished, (first, second), strict=True):
            run.max_rss_bytes = marks.peak[process.pid]
    return finished[0], finished[1]


def run_tap(config: dict[str, Any], workdir: Path, name: str, *, sample: bool = False) -> Finished:
    """The tap from its plugin venv with stdout to /dev/null; fails loudly."""
    require(TAP)
    config_path = write_config(workdir / f"{name}.config.json", config)
    return run_timed(
        [str(TAP), "--config", str(config_path)], workdir / f"{name}.log", sample=sample
    ).check()


def tap_transactions(log_path: Path) -> int:
    """Transactions the tap reports as emitted (the SDK's record counter for the stream)."""
    total = 0
    for line in log_path.read_text(errors="replace").splitlines():
        if "record_count" in line and '"transactions"' in line and "{" in line:
            payload = json.loads(line[line.index("{") :])
            if payload.get("metric") == "record_count":
                total += int(payload["value"])
    return total
