"""Figures: the tap's records/s into /dev/null against the raw parse limit (no goal).

The tap reads an unpaced local stream (dev's 7-day windows, with two requests in flight as
prod runs them: see PARALLEL_REQUESTS) with stdout to /dev/null. The raw limit is measured
in the same run on the same bytes: every request body the tap sent is replayed alone
(seeded, so byte-identical), the responses are kept in memory, and each record is parsed
and re-serialised as a JSON line with orjson. The ratio is tap records/s over raw
records/s, kept as a figure without a goal: the tap is many times faster than the real
simtom server (about 5k records/s), so the pace that matters is the source's
(bench/backfill.py measures the backfill against a server paced like it). The tap runs in
RECORD mode; a second run in BATCH mode (one JSON-lines file per stream and day, the dev
pipeline's setting) is reported beside it for comparison.

    .venv/bin/python -m bench.tap_throughput [--quick]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from datetime import date
from pathlib import Path

from bench import capture
from bench.processes import run_tap, run_timed, tap_transactions
from bench.project import TAP, BenchError, days, tap_config
from bench.results import Result, main, workdir
from bench.server import SimtomProcess

METRIC = "tap_vs_raw_parse"
FIRST_DAY = date(2024, 3, 4)  # a Monday: whole aligned 7-day windows
FULL_DAYS, QUICK_DAYS = 56, 3
QUICK_VOLUME = 200
RAW_REPEATS = 3
# With one request in flight the tap waited on the socket for a fifth of the run: the
# server generates a day only once the tap has read most of the previous one (a loopback
# socket buffers a fraction of a day). With two, the server generates one response's next
# day while the tap parses the other's: 4.7 s -> 4.2 s for the 56 days, by hand.
PARALLEL_REQUESTS = 2


def batch_run(config: dict, work: Path) -> dict:
    """The same extraction in BATCH mode (uncompressed files, stdout to /dev/null)."""
    root = work / "batches"
    batch_config = {
        "encoding": {"format": "jsonl", "compression": "none"},
        "storage": {"root": root.as_uri(), "prefix": "bench-"},
    }
    tap = run_tap({**config, "batch_config": batch_config}, work, "tap-batch")
    records = tap_transactions(tap.log_path)
    files = list(root.glob("bench-tap-simtom-bnpl-*.jsonl"))
    size = sum(path.stat().st_size for path in files)
    shutil.rmtree(root)  # nobody loads them
    return {
        "batch_mode_transactions": records,
        "batch_mode_files": len(files),
        "batch_mode_file_megabytes": round(size / 1e6, 1),
        "batch_mode_wall_seconds": round(tap.seconds, 2),
        "batch_mode_records_per_second": round(records / tap.seconds),
        "batch_mode_cpu_seconds": round(tap.cpu_seconds, 2),
        "batch_mode_cpu_microseconds_per_record": round(tap.cpu_seconds / records * 1e6, 1),
    }


def measure(args: argparse.Namespace) -> Result:
    work = workdir(METRIC, args.quick)
    start, end = days(FIRST_DAY, QUICK_DAYS if args.quick else FULL_DAYS)
    overrides: dict = {"max_parallel_requests": PARALLEL_REQUESTS}
    if args.quick:
        overrides["base_daily_volume"] = QUICK_VOLUME
    with SimtomProcess(work) as server:
        config = tap_config(server.url, start, end, **overrides)  # RECORD mode
        assert "batch_config" not in config
        startup = run_timed([str(TAP), "--about"], work / "tap-about.log").check()
        server_cpu_before = server.cpu_seconds()
        tap = run_tap(config, work, "tap")
        server_cpu = server.cpu_seconds() - server_cpu_before
        emitted = tap_transactions(tap.log_path)
        bodies = server.requests()
        captured = [capture.capture(server.url, body) for body in bodies]
        records = sum(capture.count_records(body) for body in captured)
        if records != emitted:
            raise BenchError(
                f"the tap emitted {emitted} transactions but the same requests hold {records}"
            )
        timings, cpu_timings = [], []
        with open(os.devnull, "wb") as sink:
            for _ in range(RAW_REPEATS):
                parsed, seconds, cpu = capture.parse_and_reserialize(captured, sink)
                timings.append(seconds)
                cpu_timings.append(cpu)
        raw_seconds = min(timings)
        raw_cpu = min(cpu_timings)
        size = sum(len(body) for body in captured)
        tap_rate = records / tap.seconds
        raw_rate = parsed / raw_seconds
        ratio = tap_rate / raw_rate
        figures = {
            "days": (end - start).days + 1,
            "requests": len(bodies),
            "base_daily_volume": config["base_daily_volume"],
            "window_days": config["window_days"],
            "max_parallel_requests": config["max_parallel_requests"],
            "transactions": records,
            "response_megabytes": round(size / 1e6, 1),
            "tap_wall_seconds": round(tap.seconds, 2),
            "tap_records_per_second": round(tap_rate),
            "tap_cpu_seconds": round(tap.cpu_seconds, 2),
            "tap_cpu_microseconds_per_record": round(tap.cpu_seconds / records * 1e6, 1),
            "tap_cpu_utilisation": round(tap.cpu_seconds / tap.seconds, 2),
            "tap_peak_rss_mib": round(tap.max_rss_bytes / 2**20, 1),
            "tap_startup_seconds (tap --about)": round(startup.seconds, 2),
            "tap_startup_cpu_seconds (tap --about)": round(startup.cpu_seconds, 2),
            # What the records themselves cost: start-up (mostly importing singer_sdk) is a
            # fixed cost that a longer range spreads thinner.
            "tap_cpu_microseconds_per_record_after_startup": round(
                (tap.cpu_seconds - startup.cpu_seconds) / records * 1e6, 1
            ),
            "server_cpu_seconds_during_tap_run": round(server_cpu, 2),
            "raw_parse_seconds (best of 3)": round(raw_seconds, 3),
            "raw_parse_seconds_all": [round(seconds, 3) for seconds in timings],
            "raw_records_per_second": round(raw_rate),
            "raw_megabytes_per_second": round(size / 1e6 / raw_seconds, 1),
            # The same ratio per CPU second: what the ratio would be on an idle machine with a
            # free core for the server (other work on the host stretches wall clocks).
            "tap_records_per_cpu_second": round(records / tap.cpu_seconds),
            "raw_records_per_cpu_second": round(parsed / raw_cpu),
            "ratio_per_cpu_second": round((records / tap.cpu_seconds) / (parsed / raw_cpu), 3),
        }
        figures.update(batch_run(config, work))
        notes = [
            "tap wall time is the whole process, interpreter start-up included",
            "the server runs in its own process; its CPU time shows how much of the tap's "
            "wall clock it could have cost",
            "the ratio is RECORD mode; batch_mode_* is a second run of the same range writing "
            "one JSON-lines file per stream and day (compression none), for comparison",
        ]
        title = "Tap throughput vs raw parse (figures, no goal)"
    return Result(METRIC, ratio, None, title, args.quick, figures, notes)


if __name__ == "__main__":
    sys.exit(main(METRIC, measure, __doc__.splitlines()[0]))
