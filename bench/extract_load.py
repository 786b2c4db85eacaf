"""Benchmark 2: tap -> target-duckdb-append records/s divided by tap -> /dev/null records/s.

Both runs go through Meltano with the project's dev configuration (the tap's settings
including its BATCH mode, the loader's settings from plugins/loaders.meltano.yml) against an
unpaced local server, in an isolated Meltano system database, DuckDB file and batch folder:

- baseline: `meltano invoke tap-simtom-bnpl` with stdout to /dev/null (in BATCH mode the
  tap still writes every day's files; nobody loads them)
- pipeline: `meltano run tap-simtom-bnpl target-duckdb-append` into a fresh DuckDB file

The ratio is pipeline records/s over baseline records/s; goal >= 0.8 (the loader must not
be the bottleneck). The same two runs are repeated with the tap in RECORD mode (one
Singer message per row, as prod sends to BigQuery) for comparison. Every pipeline's
loaded row count is checked against what the server streamed.

    .venv/bin/python -m bench.extract_load [--quick]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from datetime import date

from bench.meltano import (
    ExtractLoad,
    IsolatedMeltano,
    extract_load,
    extract_load_command,
)
from bench.processes import Finished
from bench.profile import profile_tree
from bench.project import MELTANO, TAP, TARGET_VENV, days, require
from bench.results import Result, main, workdir
from bench.server import SimtomProcess

METRIC = "extract_load_vs_tap"
GOAL = ">= 0.8"
FIRST_DAY = date(2024, 3, 4)  # a Monday: whole aligned 7-day windows
FULL_DAYS, QUICK_DAYS = 42, 1
QUICK_VOLUME = 20


def tap_alone(
    meltano: IsolatedMeltano,
    server: SimtomProcess,
    name: str,
    options: tuple[str, ...] = (),
    **extra: str,
) -> tuple[Finished, int]:
    """`meltano invoke tap-simtom-bnpl` to /dev/null: (run, records the server sent)."""
    mark = server.log_mark()
    run = meltano.run(
        name, *options, "invoke", "tap-simtom-bnpl", stdout_to_null=True, sample=True, **extra
    )
    emitted = server.records_sent(since=mark)
    # Nobody loads the baseline's batch files; the pipeline starts from an empty folder.
    shutil.rmtree(meltano.batch_dir, ignore_errors=True)
    return run, emitted


def mode_figures(prefix: str, baseline: Finished, emitted: int, pipeline: ExtractLoad) -> dict:
    assert baseline.sampler is not None and pipeline.finished.sampler is not None
    tap_cpu = baseline.sampler.cpu_by_label()
    return {
        f"{prefix}tap_to_devnull_wall_seconds": round(baseline.seconds, 2),
        f"{prefix}tap_to_devnull_records_per_second": round(emitted / baseline.seconds),
        f"{prefix}tap_to_devnull_cpu_seconds_by_process": tap_cpu,
        f"{prefix}tap_to_duckdb_wall_seconds": round(pipeline.seconds, 2),
        f"{prefix}tap_to_duckdb_records_per_second": round(pipeline.loaded / pipeline.seconds),
        f"{prefix}pipeline_cpu_seconds_by_process": pipeline.cpu_by_process(),
        f"{prefix}pipeline_cpu_seconds_per_1000_records_by_process": (
            pipeline.cpu_per_1000_records()
        ),
        f"{prefix}pipeline_peak_rss_mib_by_process": pipeline.finished.sampler.peak_rss_mib(),
        f"{prefix}loader_seconds_after_tap_finished": pipeline.loader_seconds_after_tap(),
        f"{prefix}ratio": round(
            (pipeline.loaded / pipeline.seconds) / (emitted / baseline.seconds), 3
        ),
    }


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
        # Creates the isolated system database and warms bytecode caches: not timed (a quick
        # run's times count for nothing).
        if not args.quick:
            meltano.run("warm-up", "config", "print", "target-duckdb-append")

        # The dev configuration: the tap in BATCH mode.
        baseline, emitted = tap_alone(meltano, server, "tap-devnull")
        pipeline = extract_load(meltano, server, "tap-target", expected=emitted)
        # The same with the tap in RECORD mode, for comparison.
        options, record_mode = meltano.record_mode()
        record_baseline, record_emitted = tap_alone(
            meltano, server, "record-mode-tap-devnull", options, **record_mode
        )
        record_pipeline = extract_load(
            meltano,
            server,
            "record-mode-tap-target",
            expected=emitted,
            options=options,
            BNPL_DUCKDB_PATH=str(work / "record_mode.duckdb"),
            **record_mode,
        )
        cpu = pipeline.cpu_by_process()
        figures = {
            "days": (end - start).days + 1,
            "transactions": emitted,
            **mode_figures("", baseline, emitted, pipeline),
            "target_cpu_seconds_per_1000_records": round(
                1000 * cpu.get("target-duckdb-append", 0.0) / pipeline.loaded, 4
            ),
            "tap_cpu_seconds_per_1000_records": round(
                1000 * cpu.get("tap-simtom-bnpl", 0.0) / pipeline.loaded, 4
            ),
            **mode_figures("record_mode_", record_baseline, record_emitted, record_pipeline),
        }
        notes = [
            "dev configuration: the tap writes each day of a stream as a JSON-lines file and "
            "sends BATCH messages; the loader (plugins/target_duckdb_append) inserts the files "
            "with DuckDB's read_json, one transaction per flush",
            "record_mode_*: the same runs with the tap sending one RECORD message per row "
            "(dev's tap settings without batch_config); Meltano copies every line from tap to "
            "target",
            "all wall times include Meltano's start-up (a few seconds each)",
            "loader_seconds_after_tap_finished: from the tap's last log line to the loader's "
            "final checkpoint (Meltano's timestamps): what the loader still had to do when the "
            "source was done - files not yet inserted, the last commit (which writes the rows "
            "not yet in a full row group) and the final checkpoint",
            "CPU seconds by process are sampled every 0.25 s from the process tree of the "
            "`meltano` command; DuckDB's threads count in the target's",
        ]
        ratio = (pipeline.loaded / pipeline.seconds) / (emitted / baseline.seconds)
        title = "Extract-load: tap -> target-duckdb-append vs tap -> /dev/null"
        result = Result(METRIC, ratio, GOAL, title, args.quick, figures, notes)
        if not result.met and not args.no_profile:
            (work / "profile").mkdir()
            result.profile = profile_tree(
                extract_load_command(),
                ("tap-simtom-bnpl", "target-duckdb-append"),
                work / "profile",
                meltano.env(BNPL_DUCKDB_PATH=str(work / "profile" / "profiled.duckdb")),
                max_seconds=pipeline.seconds * 3,
            )
    return result


if __name__ == "__main__":
    sys.exit(main(METRIC, measure, __doc__.splitlines()[0]))
