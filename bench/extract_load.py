"""Benchmark 2: tap -> target-duckdb records/s divided by tap -> /dev/null records/s.

Both runs go through Meltano with the project's dev configuration (the tap's settings, the
loader's batch size and options from plugins/loaders.meltano.yml) against an unpaced local
server, in an isolated Meltano system database and DuckDB file:

- baseline: `meltano invoke tap-simtom-bnpl` with stdout to /dev/null
- pipeline: `meltano run tap-simtom-bnpl target-duckdb` into a fresh DuckDB file

The ratio is pipeline records/s over baseline records/s; goal >= 0.8 (the loader must not
be the bottleneck). The loaded row count is checked against what the tap emitted.

    .venv/bin/python -m bench.extract_load [--quick]
"""

from __future__ import annotations

import argparse
import sys
from datetime import date

from bench.meltano import IsolatedMeltano, raw_row_count
from bench.profile import profile_tree
from bench.project import MELTANO, TAP, TARGET_VENV, BenchError, days, require
from bench.results import Result, main, workdir
from bench.server import SimtomProcess

METRIC = "extract_load_vs_tap"
GOAL = ">= 0.8"
FIRST_DAY = date(2024, 3, 4)  # a Monday: whole aligned 7-day windows
FULL_DAYS, QUICK_DAYS = 42, 3
QUICK_VOLUME = 200


def measure(args: argparse.Namespace) -> Result:
    require(MELTANO, TAP, TARGET_VENV)
    work = workdir(METRIC, args.quick)
    start, end = days(FIRST_DAY, QUICK_DAYS if args.quick else FULL_DAYS)
    warehouse = work / "extract_load.duckdb"
    with SimtomProcess(work) as server:
        overrides = {
            "TAP_SIMTOM_BNPL_START_DATE": start.isoformat(),
            "TAP_SIMTOM_BNPL_END_DATE": end.isoformat(),
        }
        if args.quick:
            overrides["TAP_SIMTOM_BNPL_BASE_DAILY_VOLUME"] = str(QUICK_VOLUME)
        meltano = IsolatedMeltano(work, server.url, warehouse, overrides)
        # Creates the isolated system database and warms bytecode caches: not timed.
        meltano.run("warm-up", "config", "print", "target-duckdb")

        mark = server.log_mark()
        baseline = meltano.run("tap-devnull", "invoke", "tap-simtom-bnpl", stdout_to_null=True)
        emitted = server.records_sent(since=mark)
        mark = server.log_mark()
        pipeline = meltano.run(
            "tap-target",
            "run",
            "--no-state-update",
            "--full-refresh",
            "tap-simtom-bnpl",
            "target-duckdb",
            sample=True,
        )
        sent = server.records_sent(since=mark)
        loaded = raw_row_count(warehouse)
        if not emitted == sent == loaded or loaded == 0:
            raise BenchError(
                f"the server sent {emitted} records to the tap alone and {sent} to the "
                f"pipeline, which loaded {loaded}: the runs are not comparable"
            )
        assert pipeline.sampler is not None
        baseline_rate = emitted / baseline.seconds
        pipeline_rate = loaded / pipeline.seconds
        cpu = pipeline.sampler.cpu_by_label()
        figures = {
            "days": (end - start).days + 1,
            "transactions": emitted,
            "tap_to_devnull_wall_seconds": round(baseline.seconds, 2),
            "tap_to_devnull_records_per_second": round(baseline_rate),
            "tap_to_duckdb_wall_seconds": round(pipeline.seconds, 2),
            "tap_to_duckdb_records_per_second": round(pipeline_rate),
            "pipeline_cpu_seconds_by_process": cpu,
            "pipeline_peak_rss_mib_by_process": pipeline.sampler.peak_rss_mib(),
            "target_cpu_seconds_per_1000_records": round(
                1000 * cpu.get("target-duckdb", 0.0) / loaded, 3
            ),
            "tap_cpu_seconds_per_1000_records": round(
                1000 * cpu.get("tap-simtom-bnpl", 0.0) / loaded, 3
            ),
        }
        notes = [
            "both wall times include Meltano's start-up (a few seconds each)",
            "CPU seconds by process are sampled every 0.25 s from the process tree of "
            "`meltano run`",
        ]
        ratio = pipeline_rate / baseline_rate
        title = "Extract-load: tap -> target-duckdb vs tap -> /dev/null"
        result = Result(METRIC, ratio, GOAL, title, args.quick, figures, notes)
        if not result.met and not args.no_profile:
            (work / "profile").mkdir()
            result.profile = {
                "per_process": profile_tree(
                    [
                        str(MELTANO),
                        "run",
                        "--no-state-update",
                        "--full-refresh",
                        "tap-simtom-bnpl",
                        "target-duckdb",
                    ],
                    ("tap-simtom-bnpl", "target-duckdb"),
                    work / "profile",
                    meltano.env(BNPL_DUCKDB_PATH=str(work / "profile" / "profiled.duckdb")),
                    max_seconds=pipeline.seconds * 3,
                )
            }
    return result


if __name__ == "__main__":
    sys.exit(main(METRIC, measure, __doc__.splitlines()[0]))
