"""Benchmark 3: a year's backfill against a server paced like the real simtom.

The same days (2024-01-01..2024-12-30 at base volume 5000, in the tap's aligned 7-day
windows) from two local servers, each pausing one second between the days of a response:

- source-paced: the server also generates about 5000 records/s in all, one request's day
  at a time (`simtom-local --records-per-second`), as simtom does on its one core.
  pipeline (`meltano run tap-simtom-bnpl target-duckdb-append` into a fresh DuckDB file
  in the dev configuration, `max_parallel_requests` as `make backfill`: --parallel,
  default 16) / bare concurrent fetch (16 plain HTTP clients that read and discard the
  same windows). Goal <= 1.1: the pipeline keeps up with what the source can send.
- unrated (as this benchmark measured before the rate existed): pipeline / sequential bare
  fetch (one request per window, one after the other). Goal <= 0.5: what windows in
  flight buy. Under the rate the ratio would be bound by the rate instead (a year's
  generation alone is over half of a sequential fetch's generation plus pauses), so it
  keeps the unrated server.

The JSON line carries the first ratio; the second is in the figures and in
`docs/benchmarks.md`.

    .venv/bin/python -m bench.backfill [--quick] [--parallel N]
"""

from __future__ import annotations

import argparse
import queue
import sys
import threading
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from tap_simtom_bnpl.windows import windows

from bench.capture import RecordCounter, stream_body
from bench.meltano import ExtractLoad, IsolatedMeltano, extract_load, extract_load_command
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

METRIC = "source_paced_backfill"
GOAL = "<= 1.1"
SEQUENTIAL_METRIC = "backfill_vs_sequential_fetch"
SEQUENTIAL_GOAL = "<= 0.5"
FIRST_DAY = date(2024, 1, 1)
# The quick run: one window of two days, so the server pauses between a response's days.
FULL_DAYS, QUICK_DAYS = 365, 2
QUICK_VOLUME = 20
PACE_SECONDS, QUICK_PACE_SECONDS = 1.0, 0.1
# simtom's rate on its one core (docs/simtom-api.md, "Pacing"); the quick run's still paces
# its two days at base 20 (a few tenths of a second).
RECORDS_PER_SECOND, QUICK_RECORDS_PER_SECOND = 5000.0, 100.0
DEFAULT_PARALLEL = 16  # what `make backfill` uses
PROFILE_DAYS = 56


@dataclass
class Workload:
    start: date
    end: date
    volume: int
    bodies: list[dict]
    parallel: int
    pace: float
    # Warm-ups keep cold caches out of the timed runs; a quick run's times count for nothing.
    warm_up: bool = True


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


def pipeline(
    work: Path, server: SimtomProcess, load: Workload, expected: int, warehouse: Path
) -> tuple[ExtractLoad, float, IsolatedMeltano]:
    """The backfill's extract-load step, sampled; (run, server CPU seconds, its Meltano)."""
    overrides = {
        "TAP_SIMTOM_BNPL_START_DATE": load.start.isoformat(),
        "TAP_SIMTOM_BNPL_END_DATE": load.end.isoformat(),
        "TAP_SIMTOM_BNPL_BASE_DAILY_VOLUME": str(load.volume),
        "TAP_SIMTOM_BNPL_MAX_PARALLEL_REQUESTS": str(load.parallel),
    }
    meltano = IsolatedMeltano(work, server.url, warehouse, overrides)
    if load.warm_up:  # creates the isolated system database and warms bytecode caches
        meltano.run("warm-up", "config", "print", "target-duckdb-append")
    cpu_before = server.cpu_seconds()
    run = extract_load(meltano, server, "pipeline", expected=expected)
    return run, server.cpu_seconds() - cpu_before, meltano


def unrated(work: Path, load: Workload) -> dict:
    """Pipeline and sequential bare fetch against the server without a rate."""
    work.mkdir()
    with SimtomProcess(work, pace_seconds=load.pace) as server:
        sequential_seconds, records = bare_fetch(server.url, load.bodies, 1)
        run, _, _ = pipeline(work, server, load, records, work / "year.duckdb")
    return {
        "transactions": records,
        "sequential_fetch_seconds": sequential_seconds,
        "pipeline_wall_seconds": run.seconds,
    }


def measure(args: argparse.Namespace) -> Result:
    require(MELTANO, TAP, TARGET_VENV)
    work = workdir(METRIC, args.quick)
    start, end = days(FIRST_DAY, QUICK_DAYS if args.quick else FULL_DAYS)
    tap = dev_tap_config()
    volume = QUICK_VOLUME if args.quick else int(tap["base_daily_volume"])
    bodies = window_bodies(start, end, volume, int(tap["seed"]), int(tap["window_days"]))
    pace = QUICK_PACE_SECONDS if args.quick else PACE_SECONDS
    rate = QUICK_RECORDS_PER_SECOND if args.quick else RECORDS_PER_SECOND
    load = Workload(start, end, volume, bodies, args.parallel, pace, warm_up=not args.quick)
    before = unrated(work / "unrated", load)
    records = before["transactions"]
    paced = work / "source-paced"
    paced.mkdir()
    warehouse = paced / "year.duckdb"
    with SimtomProcess(paced, pace_seconds=pace, records_per_second=rate) as server:
        cpu_before = server.cpu_seconds()
        fetch_seconds, fetched = bare_fetch(server.url, bodies, args.parallel)
        fetch_server_cpu = server.cpu_seconds() - cpu_before
        if fetched != records:
            raise BenchError(f"the bare fetch read {fetched} records, the unrated run {records}")
        run, run_server_cpu, meltano = pipeline(paced, server, load, records, warehouse)
        cpu = run.cpu_by_process()
        vs_fetch = run.seconds / fetch_seconds
        vs_sequential = before["pipeline_wall_seconds"] / before["sequential_fetch_seconds"]
        figures = {
            "days": (end - start).days + 1,
            "windows": len(bodies),
            "base_daily_volume": volume,
            "transactions": records,
            "server_pace_seconds": pace,
            "server_records_per_second": rate,
            "windows_in_flight": args.parallel,
            "source_paced_pipeline_wall_seconds": round(run.seconds, 1),
            "source_paced_bare_fetch_seconds": round(fetch_seconds, 1),
            "source_paced_bare_fetch_records_per_second": round(records / fetch_seconds),
            "source_paced_pipeline_records_per_second": round(run.loaded / run.seconds),
            "source_paced_loader_seconds_after_tap": run.loader_seconds_after_tap(),
            "source_paced_pipeline_cpu_seconds_by_process": cpu,
            "source_paced_pipeline_cpu_share_of_wall_by_process": {
                label: round(seconds / run.seconds, 2) for label, seconds in cpu.items()
            },
            "source_paced_pipeline_peak_rss_mib_by_process": run.finished.sampler.peak_rss_mib(),
            "server_cpu_seconds_in_bare_fetch": round(fetch_server_cpu, 1),
            "server_cpu_seconds_in_pipeline": round(run_server_cpu, 1),
            "unrated_pipeline_wall_seconds": round(before["pipeline_wall_seconds"], 1),
            "unrated_sequential_fetch_seconds": round(before["sequential_fetch_seconds"], 1),
        }
        notes = [
            "pipeline = the backfill's extract-load step, Meltano start-up included; dbt is "
            "measured by bench/dbt_daily.py on warehouses of its own",
            "source-paced: the server generates at most server_records_per_second in all, one "
            "request's day at a time, and pauses server_pace_seconds between a response's "
            "days, as simtom does; both the pipeline and the bare fetch keep windows_in_flight "
            "windows in flight",
            "unrated: the same server without the rate, as this benchmark ran before; "
            "backfill_vs_sequential_fetch = unrated pipeline / unrated sequential fetch",
            "a process's CPU share of the wall clock near 1.0 means it is the bound (one "
            "Python process uses at most one core for Python code)",
        ]
        title = "Backfill: a year against a server paced like simtom"
        result = Result(METRIC, vs_fetch, GOAL, title, args.quick, figures, notes)
        result.add_ratio(SEQUENTIAL_METRIC, vs_sequential, SEQUENTIAL_GOAL)
        missed = not result.met or not all(row["met"] for row in result.also)
        if missed and not args.no_profile:
            result.profile = profile_segment(paced, meltano, start)
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
