"""Benchmark 3: a year's backfill against a server paced like simtom.

The local server pauses one second between the days of a response and generates one
day-batch at a time across all requests, as simtom does. Three timings of the same days
(2024-01-01..2024-12-30 at base volume 5000, in the tap's aligned 7-day windows):

- pipeline: `meltano run tap-simtom-bnpl target-duckdb-append` into a fresh DuckDB file in the
  dev configuration (the tap hands the loader one JSON-lines file per stream and day in
  BATCH messages), with `max_parallel_requests` set for the backfill (--parallel; default
  16, as `make backfill`)
- bare concurrent fetch: plain HTTP clients that read and discard the same windows, N at a
  time, for several N; the fastest counts
- sequential: the same bare client, one request per window, one after the other

Ratios: pipeline / fastest bare fetch (goal <= 1.2) and pipeline / sequential (goal <= 0.5).
The JSON line carries the first; the second is in the figures and in `docs/benchmarks.md`.

    .venv/bin/python -m bench.backfill [--quick] [--parallel N]
"""

from __future__ import annotations

import argparse
import os
import queue
import sys
import threading
import time
from datetime import date
from pathlib import Path

from tap_simtom_bnpl.windows import windows

from bench.capture import RecordCounter, stream_body
from bench.meltano import IsolatedMeltano, extract_load, extract_load_command
from bench.profile import profile_tree
from bench.project import (
    MELTANO,
    TAP,
    TARGET_VENV,
    BenchError,
    days,
    dev_tap_config,
    require,
)
from bench.results import Result, main, parser, workdir
from bench.server import SimtomProcess

METRIC = "backfill_vs_bare_fetch"
GOAL = "<= 1.2"
SEQUENTIAL_METRIC = "backfill_vs_sequential_fetch"
SEQUENTIAL_GOAL = "<= 0.5"
FIRST_DAY = date(2024, 1, 1)
FULL_DAYS, QUICK_DAYS = 365, 14
QUICK_VOLUME = 200
PACE_SECONDS, QUICK_PACE_SECONDS = 1.0, 0.1
FULL_LEVELS, QUICK_LEVELS = (4, 8, 16), (4,)
DEFAULT_PARALLEL = 16  # what `make backfill` uses
PROFILE_DAYS = 56


def window_bodies(start: date, end: date, volume: int, seed: int, window_days: int) -> list[dict]:
    """The request bodies the tap sends for start..end (its aligned windows)."""
    return [
        {
            "start_date": window.start.isoformat(),
            "end_date": window.end.isoformat(),
            "base_daily_volume": volume,
            "seed": seed,
        }
        for window in windows(start, end, window_days)
    ]


def bare_fetch(api_url: str, bodies: list[dict], concurrency: int) -> tuple[float, int]:
    """Fetch every body with `concurrency` plain clients; (wall seconds, records)."""
    pending: queue.Queue = queue.Queue()
    for body in bodies:
        pending.put(body)
    counters: list[RecordCounter] = []
    errors: list[BaseException] = []

    def worker() -> None:
        while True:
            try:
                body = pending.get_nowait()
            except queue.Empty:
                return
            counter = RecordCounter()
            counters.append(counter)
            try:
                stream_body(api_url, body, counter)
            except BaseException as exc:  # reported after the join
                errors.append(exc)
                return

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    if errors:
        raise BenchError(f"bare fetch failed: {errors[0]}")
    return seconds, sum(counter.records for counter in counters)


def measure(args: argparse.Namespace) -> Result:
    require(MELTANO, TAP, TARGET_VENV)
    work = workdir(METRIC, args.quick)
    start, end = days(FIRST_DAY, QUICK_DAYS if args.quick else FULL_DAYS)
    tap = dev_tap_config()
    volume = QUICK_VOLUME if args.quick else int(tap["base_daily_volume"])
    bodies = window_bodies(start, end, volume, int(tap["seed"]), int(tap["window_days"]))
    pace = QUICK_PACE_SECONDS if args.quick else PACE_SECONDS
    warehouse = work / "year.duckdb"
    with SimtomProcess(work, pace_seconds=pace) as server:
        sequential_seconds, records = bare_fetch(server.url, bodies, 1)
        concurrent: dict[int, float] = {}
        server_cpu: dict[int, float] = {}
        for level in QUICK_LEVELS if args.quick else FULL_LEVELS:
            cpu_before = server.cpu_seconds()
            seconds, fetched = bare_fetch(server.url, bodies, level)
            server_cpu[level] = server.cpu_seconds() - cpu_before
            if fetched != records:
                raise BenchError(f"{level} clients fetched {fetched} records, 1 fetched {records}")
            concurrent[level] = seconds
        best_level = min(concurrent, key=concurrent.__getitem__)
        overrides = {
            "TAP_SIMTOM_BNPL_START_DATE": start.isoformat(),
            "TAP_SIMTOM_BNPL_END_DATE": end.isoformat(),
            "TAP_SIMTOM_BNPL_BASE_DAILY_VOLUME": str(volume),
            "TAP_SIMTOM_BNPL_MAX_PARALLEL_REQUESTS": str(args.parallel),
        }
        meltano = IsolatedMeltano(work, server.url, warehouse, overrides)
        # Creates the isolated system database and warms bytecode caches: not timed.
        meltano.run("warm-up", "config", "print", "target-duckdb-append")
        cpu_before = server.cpu_seconds()
        pipeline = extract_load(meltano, server, "pipeline", expected=records)
        pipeline_server_cpu = server.cpu_seconds() - cpu_before
        loaded = pipeline.loaded
        cpu = pipeline.cpu_by_process()
        # What the machine's cores allow at best: the server's and the pipeline's CPU time
        # spread over every core with nothing idle.
        cores = os.cpu_count() or 1
        cpu_floor = (pipeline_server_cpu + sum(cpu.values())) / cores
        vs_concurrent = pipeline.seconds / concurrent[best_level]
        vs_sequential = pipeline.seconds / sequential_seconds
        figures = {
            "days": (end - start).days + 1,
            "windows": len(bodies),
            "base_daily_volume": volume,
            "server_pace_seconds": pace,
            "transactions": records,
            "pipeline_max_parallel_requests": args.parallel,
            "pipeline_wall_seconds": round(pipeline.seconds, 1),
            "pipeline_records_per_second": round(loaded / pipeline.seconds),
            "sequential_fetch_seconds": round(sequential_seconds, 1),
            "bare_concurrent_fetch_seconds_by_clients": {
                str(level): round(seconds, 1) for level, seconds in concurrent.items()
            },
            "fastest_bare_fetch_clients": best_level,
            "fastest_bare_fetch_seconds": round(concurrent[best_level], 1),
            "pipeline_cpu_seconds_by_process": cpu,
            "pipeline_cpu_share_of_wall_by_process": {
                label: round(seconds / pipeline.seconds, 2) for label, seconds in cpu.items()
            },
            "pipeline_cpu_seconds_per_1000_records_by_process": pipeline.cpu_per_1000_records(),
            "server_cpu_seconds_in_bare_fetch_by_clients": {
                str(level): round(seconds, 1) for level, seconds in server_cpu.items()
            },
            "server_cpu_seconds_in_pipeline": round(pipeline_server_cpu, 1),
            "cores": cores,
            "pipeline_cpu_floor_seconds": round(cpu_floor, 1),
            "pipeline_cpu_floor_vs_fastest_bare_fetch": round(
                cpu_floor / concurrent[best_level], 3
            ),
            "pipeline_peak_rss_mib_by_process": pipeline.finished.sampler.peak_rss_mib(),
        }
        notes = [
            "pipeline = the backfill's extract-load step, Meltano start-up included; dbt is "
            "measured by bench/dbt_daily.py on warehouses of its own",
            "a process's CPU share of the wall clock near 1.0 means it is the bound (one "
            "Python process uses at most one core for Python code)",
            "the server runs on the same cores: pipeline_cpu_floor_seconds is the server's "
            "and the pipeline's CPU seconds over the core count, the wall time the machine "
            "allows at best; its ratio to the fastest bare fetch is the best ratio possible "
            "here without less CPU per record",
        ]
        title = "Backfill: a year against a simtom-paced server"
        result = Result(METRIC, vs_concurrent, GOAL, title, args.quick, figures, notes)
        result.add_ratio(SEQUENTIAL_METRIC, vs_sequential, SEQUENTIAL_GOAL)
        missed = not result.met or not all(row["met"] for row in result.also)
        if missed and not args.no_profile:
            result.profile = profile_segment(work, meltano, start)
    return result


def profile_segment(work: Path, meltano: IsolatedMeltano, start: date) -> dict:
    """py-spy on the tap and the loader over the first weeks of the same backfill."""
    first, last = days(start, PROFILE_DAYS)
    directory = work / "profile"
    directory.mkdir()
    profile = profile_tree(
        extract_load_command(),
        ("tap-simtom-bnpl", "target-duckdb-append"),
        directory,
        meltano.env(
            BNPL_DUCKDB_PATH=str(directory / "profiled.duckdb"),
            TAP_SIMTOM_BNPL_START_DATE=first.isoformat(),
            TAP_SIMTOM_BNPL_END_DATE=last.isoformat(),
        ),
        max_seconds=900,
    )
    return profile if "error" in profile else {"segment": f"{first}..{last}", **profile}


def cli() -> argparse.ArgumentParser:
    command = parser(__doc__.splitlines()[0])
    command.add_argument(
        "--parallel",
        type=int,
        default=DEFAULT_PARALLEL,
        help=f"the tap's max_parallel_requests for the backfill (default {DEFAULT_PARALLEL})",
    )
    return command


if __name__ == "__main__":
    sys.exit(main(METRIC, measure, __doc__.splitlines()[0], cli=cli()))
