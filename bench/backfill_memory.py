"""Benchmark 6: the tap's peak RSS over a year's backfill with 16 windows in flight / with 1.

`make backfill` runs the tap with 16 windows in flight (bench/backfill.py: simtom pauses
between the days of a response, and concurrent requests overlap those pauses). Days are
emitted in date order, so the days later windows complete must wait for every earlier
day; this measures what that waiting costs in memory. Goal <= 1.25.

Both runs extract the same year (2024-01-01..2024-12-30 at dev's base volume 5000) in the
dev configuration: BATCH mode (one JSON-lines file per stream and day), 7-day windows,
against an unpaced local server, where windows complete fastest and so wait longest. The
tap's stdout is piped straight into the project's loader (target-duckdb-append, with its
settings from plugins/loaders.meltano.yml) and a fresh DuckDB file, without Meltano in
between: the loader deletes each batch file once loaded, as in a backfill (to /dev/null a
year of files would pile up on disk), it takes its share of the CPU as in a backfill, and
its own peak RSS for the year is reported beside the tap's. Each peak is the kernel's
high-water mark of the process's own address space (VmHWM, polled; wait4's figure would
include this process's size, see `processes.HighWaterMarks`).

    .venv/bin/python -m bench.backfill_memory [--quick]
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from bench.meltano import raw_row_count
from bench.processes import Finished, run_piped, tap_transactions
from bench.project import (
    ROOT,
    TAP,
    TARGET_VENV,
    BenchError,
    days,
    dev_tap_config,
    require,
    write_config,
)
from bench.results import Result, main, workdir
from bench.server import SimtomProcess

METRIC = "backfill_memory_16_vs_1_windows"
GOAL = "<= 1.25"
FIRST_DAY = date(2024, 1, 1)
# The quick run: two 7-day windows (the second's day waits on the first), base volume 20.
FULL_DAYS, QUICK_DAYS = 365, 8
QUICK_VOLUME = 20
MANY, ONE = 16, 1  # `make backfill`'s windows in flight, and the daily job's
LOADER = TARGET_VENV / "bin" / "target-duckdb-append"


def loader_config(duckdb_path: Path) -> dict[str, Any]:
    """target-duckdb-append's settings as the project configures them, into `duckdb_path`."""
    plugins = yaml.safe_load((ROOT / "plugins" / "loaders.meltano.yml").read_text())
    for loader in plugins["plugins"]["loaders"]:
        if loader["name"] == "target-duckdb-append":
            config = {s["name"]: s["value"] for s in loader["settings"] if "value" in s}
            return {**config, "path": str(duckdb_path)}
    raise BenchError("plugins/loaders.meltano.yml: no target-duckdb-append")


def backfill(
    work: Path,
    name: str,
    api_url: str,
    start: date,
    end: date,
    parallel: int,
    volume: int,
    *,
    keep: bool = False,
) -> tuple[Finished, Finished, int]:
    """start..end into the loader: (tap, loader, transactions emitted), checked.

    The DuckDB file, `<work>/<name>/year.duckdb`, is deleted unless `keep`.
    """
    batches = work / name / "batches"
    duckdb_path = work / name / "year.duckdb"
    tap = {
        **dev_tap_config(),
        "api_url": api_url,
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "base_daily_volume": volume,
        "max_parallel_requests": parallel,
    }
    # dev's encoding; its storage names a folder through $MELTANO_PROJECT_ROOT, which only
    # Meltano expands.
    tap["batch_config"] = {
        **tap["batch_config"],
        "storage": {"root": batches.as_uri(), "prefix": "bench-"},
    }
    tap_config = write_config(work / name / "tap.config.json", tap)
    target_config = write_config(work / name / "target.config.json", loader_config(duckdb_path))
    tap_run, loader_run = run_piped(
        [str(TAP), "--config", str(tap_config)],
        [str(LOADER), "--config", str(target_config)],
        work / name / "tap.log",
        work / name / "target.log",
    )
    tap_run.check()
    loader_run.check()
    emitted = tap_transactions(tap_run.log_path)
    loaded = raw_row_count(duckdb_path)
    if loaded != emitted or emitted == 0:
        raise BenchError(
            f"{name}: the tap emitted {emitted} transactions, the loader loaded {loaded}"
        )
    left = [path.name for path in batches.iterdir() if ".jsonl" in path.name]
    if left:
        raise BenchError(f"{name}: batch files left after the load: {left[:3]}")
    if not keep:
        duckdb_path.unlink()
    return tap_run, loader_run, emitted


def measure(args: argparse.Namespace) -> Result:
    require(TAP, LOADER)
    work = workdir(METRIC, args.quick)
    start, end = days(FIRST_DAY, QUICK_DAYS if args.quick else FULL_DAYS)
    dev = dev_tap_config()
    volume = QUICK_VOLUME if args.quick else int(dev["base_daily_volume"])
    runs: dict[int, tuple[Finished, Finished, int]] = {}
    with SimtomProcess(work) as server:
        for parallel in (MANY, ONE):
            runs[parallel] = backfill(
                work, f"parallel-{parallel}", server.url, start, end, parallel, volume
            )
    if runs[MANY][2] != runs[ONE][2]:
        raise BenchError(f"transactions differ: {runs[MANY][2]} with {MANY}, {runs[ONE][2]} with 1")
    ratio = runs[MANY][0].max_rss_bytes / runs[ONE][0].max_rss_bytes
    figures: dict[str, Any] = {
        "days": (end - start).days + 1,
        "base_daily_volume": volume,
        "window_days": dev["window_days"],
        "transactions": runs[ONE][2],
        "server_pace_seconds": 0.0,
    }
    for parallel, (tap_run, loader_run, _) in runs.items():
        figures[f"tap_peak_rss_mib_{parallel}_in_flight"] = round(tap_run.max_rss_bytes / 2**20, 1)
        figures[f"loader_peak_rss_mib_{parallel}_in_flight"] = round(
            loader_run.max_rss_bytes / 2**20, 1
        )
        figures[f"wall_seconds_{parallel}_in_flight"] = round(loader_run.seconds, 1)
        figures[f"tap_cpu_seconds_{parallel}_in_flight"] = round(tap_run.cpu_seconds, 1)
    notes = [
        "peak RSS: each process's VmHWM (the kernel's high-water mark); tap | loader piped "
        "directly, BATCH mode as in dev, unpaced local server",
        "wall seconds: until the loader finished (it ends after the tap)",
    ]
    title = "Backfill memory: 16 windows in flight vs 1"
    return Result(METRIC, ratio, GOAL, title, args.quick, figures, notes)


if __name__ == "__main__":
    sys.exit(main(METRIC, measure, __doc__.splitlines()[0]))
