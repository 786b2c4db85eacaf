"""Benchmark 5: the tap's peak RSS over 365 days divided by its peak RSS over 7 days.

Both runs use the dev configuration (7-day windows, one request in flight) against an
unpaced local server, stdout to /dev/null. Peak RSS is the kernel's exact high-water mark
of the tap process (`wait4` ru_maxrss); RSS is also sampled during the long run to show
whether it plateaus or climbs. Goal <= 1.2: memory is bounded by the windows in flight,
never by the range.

    .venv/bin/python -m bench.tap_memory [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

from bench.processes import run_tap, run_timed, tap_transactions
from bench.project import ROOT, TAP_VENV, days, tap_config, write_config
from bench.results import Result, main, workdir
from bench.server import SimtomProcess

METRIC = "tap_peak_rss_365_vs_7_days"
GOAL = "<= 1.2"
SHORT_FIRST_DAY = date(2024, 3, 4)  # a Monday: one whole aligned window
LONG_FIRST_DAY = date(2024, 1, 1)
FULL = (7, 365)
QUICK = (3, 21)
QUICK_VOLUME = 200
FRACTIONS = (0.1, 0.25, 0.5, 0.75, 1.0)


def measure(args: argparse.Namespace) -> Result:
    work = workdir(METRIC, args.quick)
    short_days, long_days = QUICK if args.quick else FULL
    overrides = {"base_daily_volume": QUICK_VOLUME} if args.quick else {}
    with SimtomProcess(work) as server:
        short = run_tap(
            tap_config(server.url, *days(SHORT_FIRST_DAY, short_days), **overrides),
            work,
            "tap-short",
        )
        long_config = tap_config(server.url, *days(LONG_FIRST_DAY, long_days), **overrides)
        long = run_tap(long_config, work, "tap-long", sample=True)
        assert long.sampler is not None
        ratio = long.max_rss_bytes / short.max_rss_bytes
        figures = {
            "base_daily_volume": long_config["base_daily_volume"],
            "window_days": long_config["window_days"],
            "max_parallel_requests": long_config["max_parallel_requests"],
            "short_run_days": short_days,
            "short_run_transactions": tap_transactions(short.log_path),
            "short_run_peak_rss_mib": round(short.max_rss_bytes / 2**20, 1),
            "short_run_wall_seconds": round(short.seconds, 1),
            "long_run_days": long_days,
            "long_run_transactions": tap_transactions(long.log_path),
            "long_run_peak_rss_mib": round(long.max_rss_bytes / 2**20, 1),
            "long_run_wall_seconds": round(long.seconds, 1),
            "long_run_rss_mib_at_10_25_50_75_100_percent": long.sampler.rss_mib_at(
                "tap-simtom-bnpl", FRACTIONS
            ),
        }
        notes = ["peak RSS from wait4 (exact high-water mark of the tap process)"]
        result = Result(
            METRIC, ratio, GOAL, "Tap memory: 365 days vs 7 days", args.quick, figures, notes
        )
        if not result.met and not args.no_profile:
            result.profile = allocation_profile(work, long_config)
    return result


def allocation_profile(work: Path, config: dict) -> dict:
    """Where the long run's memory is held: tracemalloc's largest live allocations at the end."""
    config_path = write_config(work / "tap-tracemalloc.config.json", config)
    snapshot = work / "tap-tracemalloc.json"
    run_timed(
        [
            str(TAP_VENV / "bin" / "python"),
            str(ROOT / "bench" / "tracemalloc_tap.py"),
            str(snapshot),
            "--config",
            str(config_path),
        ],
        work / "tap-tracemalloc.log",
    ).check()
    return json.loads(snapshot.read_text())


if __name__ == "__main__":
    sys.exit(main(METRIC, measure, __doc__.splitlines()[0]))
