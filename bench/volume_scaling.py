"""Benchmark 7: the same four weeks at base volume 40,000 and at 5,000: time per record and memory.

Users raise base_daily_volume (a 10x year is 18M transactions): is every stage linear, and
is memory flat? For each volume, the same 28 days (2024-03-04..2024-03-31, four aligned
7-day windows) against an unpaced local server, on a fresh warehouse:

1. extract-load as the job runs it: the tap in dev's configuration (BATCH mode, its
   max_parallel_requests) piped straight into the project's loader (target-duckdb-append
   with its settings from plugins/loaders.meltano.yml), without Meltano in between, as
   bench/backfill_memory.py does; each process's peak RSS is its own VmHWM
2. `meltano run dbt-duckdb:build`, the first daily run on the fresh warehouse (every
   incremental model built from scratch): the nodes the job's two dbt steps, build-staging
   and build-marts, build between them, in one invocation; dbt's peak RSS is the VmHWM of
   the dbt process (polled from Meltano's process tree)

Ratios: seconds per transaction (extract-load plus dbt, wall clock) at 40,000 / at 5,000,
goal <= 1.1 (`volume_scaling_time`), and peak RSS at 40,000 / at 5,000 for the tap, the
loader and dbt, goal <= 1.5 each (`volume_scaling_memory`: the largest of the three).

    .venv/bin/python -m bench.volume_scaling [--quick]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from bench.backfill_memory import LOADER, backfill
from bench.dbt_daily import node_summary, run_results
from bench.meltano import IsolatedMeltano
from bench.processes import Finished
from bench.project import DBT_VENV, MELTANO, TAP, days, dev_tap_config, require
from bench.results import Result, main, workdir
from bench.server import SimtomProcess

METRIC = "volume_scaling_time"
GOAL = "<= 1.1"
MEMORY_METRIC = "volume_scaling_memory"
MEMORY_GOAL = "<= 1.5"
FIRST_DAY = date(2024, 3, 4)  # a Monday: whole aligned 7-day windows
FULL_DAYS, QUICK_DAYS = 28, 1
SMALL, LARGE = 5_000, 40_000
# The full run's 8x apart, as small as the server makes a day of transactions.
QUICK_SMALL, QUICK_LARGE = 10, 80
WARM_UP_VOLUME = 50  # the full run's untimed first day
PROCESSES = ("tap", "loader", "dbt")


@dataclass
class VolumeRun:
    """One volume's extract-load and dbt build."""

    volume: int
    transactions: int
    tap: Finished
    loader: Finished
    dbt: Finished
    dbt_nodes: dict[str, Any]
    server_cpu_seconds: float

    @property
    def seconds(self) -> float:
        # The loader ends after the tap: its wall time is the extract-load's.
        return self.loader.seconds + self.dbt.seconds

    def peak_rss(self) -> dict[str, int]:
        assert self.dbt.sampler is not None
        return {
            "tap": self.tap.max_rss_bytes,
            "loader": self.loader.max_rss_bytes,
            "dbt": self.dbt.sampler.high_water_mark.get("dbt", 0),
        }

    def figures(self) -> dict[str, Any]:
        assert self.dbt.sampler is not None
        per_record = 1e6 / self.transactions
        dbt_elapsed = self.dbt_nodes["dbt_elapsed_seconds"]
        return {
            "transactions": self.transactions,
            "extract_load_wall_seconds": round(self.loader.seconds, 2),
            "tap_wall_seconds": round(self.tap.seconds, 2),
            "dbt_wall_seconds": round(self.dbt.seconds, 2),
            "dbt_elapsed_seconds": dbt_elapsed,
            "dbt_seconds_outside_dbt_execution": round(self.dbt.seconds - dbt_elapsed, 2),
            "total_wall_seconds": round(self.seconds, 2),
            "microseconds_per_transaction": round(self.seconds * per_record, 2),
            "extract_load_microseconds_per_transaction": round(self.loader.seconds * per_record, 2),
            "dbt_microseconds_per_transaction": round(self.dbt.seconds * per_record, 2),
            "cpu_seconds": {
                "tap": round(self.tap.cpu_seconds, 2),
                "loader": round(self.loader.cpu_seconds, 2),
                "dbt": self.dbt.sampler.cpu_by_label().get("dbt", 0.0),
                "server": round(self.server_cpu_seconds, 2),
            },
            "peak_rss_mib": {name: round(rss / 2**20, 1) for name, rss in self.peak_rss().items()},
            "dbt_node_seconds_by_type": self.dbt_nodes["node_seconds_by_type"],
            "dbt_slowest_nodes": self.dbt_nodes["slowest_nodes"][:5],
        }


def run_volume(
    work: Path,
    server: SimtomProcess,
    start: date,
    end: date,
    volume: int,
    parallel: int,
    name: str = "",
    *,
    warm_up: bool = True,
) -> VolumeRun:
    """Both stages of start..end at `volume` on a fresh warehouse, in `<work>/<name>`."""
    name = name or f"volume-{volume}"
    cpu_before = server.cpu_seconds()
    tap, loader, transactions = backfill(
        work, name, server.url, start, end, parallel, volume, keep=True
    )
    server_cpu = server.cpu_seconds() - cpu_before
    warehouse = work / name / "year.duckdb"
    meltano = IsolatedMeltano(work / name / "meltano", server.url, warehouse)
    if warm_up:  # creates the isolated system database and warms bytecode caches: not timed
        meltano.run("warm-up", "config", "print", "dbt-duckdb")
    dbt = meltano.run("dbt-build", "run", "dbt-duckdb:build", sample=True)
    nodes = node_summary([run_results(meltano.workdir / "dbt-target")])
    return VolumeRun(volume, transactions, tap, loader, dbt, nodes, server_cpu)


def measure(args: argparse.Namespace) -> Result:
    require(MELTANO, TAP, LOADER, DBT_VENV)
    work = workdir(METRIC, args.quick)
    start, end = days(FIRST_DAY, QUICK_DAYS if args.quick else FULL_DAYS)
    small, large = (QUICK_SMALL, QUICK_LARGE) if args.quick else (SMALL, LARGE)
    parallel = int(dev_tap_config()["max_parallel_requests"])
    # Warm-ups keep cold caches out of the timed runs; a quick run's times count for nothing.
    warm_up = not args.quick
    with SimtomProcess(work) as server:
        if warm_up:
            # Whichever volume ran first would pay for cold caches (bytecode, the page cache
            # of every plugin venv): one day of both stages first, untimed.
            run_volume(work, server, start, start, WARM_UP_VOLUME, parallel, name="warm-up")
        runs = [
            run_volume(work, server, start, end, v, parallel, warm_up=warm_up)
            for v in (small, large)
        ]
    low, high = runs

    def per_record(run: VolumeRun, seconds: float) -> float:
        return seconds / run.transactions

    time_ratio = per_record(high, high.seconds) / per_record(low, low.seconds)
    low_rss, high_rss = low.peak_rss(), high.peak_rss()
    memory_ratios = {name: high_rss[name] / low_rss[name] for name in PROCESSES}
    figures: dict[str, Any] = {
        "days": (end - start).days + 1,
        "first_day": start.isoformat(),
        "server_pace_seconds": 0.0,
        "max_parallel_requests": parallel,
        "transactions_ratio": round(high.transactions / low.transactions, 3),
    }
    for run in runs:
        figures[f"at_{run.volume}"] = run.figures()
    figures["seconds_per_transaction_ratio_by_stage"] = {
        "extract_load": round(
            per_record(high, high.loader.seconds) / per_record(low, low.loader.seconds), 3
        ),
        "dbt_wall": round(per_record(high, high.dbt.seconds) / per_record(low, low.dbt.seconds), 3),
        "dbt_elapsed": round(
            per_record(high, high.dbt_nodes["dbt_elapsed_seconds"])
            / per_record(low, low.dbt_nodes["dbt_elapsed_seconds"]),
            3,
        ),
    }
    # CPU time is what other work on the machine skews least: whether a stage's work per
    # record grows, whatever the wall clock did.
    low_cpu, high_cpu = low.figures()["cpu_seconds"], high.figures()["cpu_seconds"]
    figures["cpu_seconds_per_transaction_ratio_by_process"] = {
        name: round(per_record(high, high_cpu[name]) / per_record(low, low_cpu[name]), 3)
        for name in low_cpu
        if low_cpu[name] > 0
    }
    figures["peak_rss_ratio_by_process"] = {
        name: round(ratio, 3) for name, ratio in memory_ratios.items()
    }
    notes = [
        f"the same days at base_daily_volume {small} and {large}; seconds per transaction = "
        "(extract-load wall + dbt wall) / transactions loaded",
        "extract-load: tap | target-duckdb-append piped directly (no Meltano), BATCH mode and "
        "max_parallel_requests as in dev, unpaced local server on the same cores; its wall "
        "time ends when the loader has committed and checkpointed",
        "dbt: `meltano run dbt-duckdb:build` on the fresh warehouse (the first daily run): "
        "Meltano start-up, dbt start-up and a full parse (fresh target folder) are in its wall "
        "time, dbt_elapsed_seconds is dbt's own figure from run_results.json; "
        "dbt_seconds_outside_dbt_execution is the fixed cost per run",
        "peak RSS: VmHWM of the tap, the loader and the dbt process (not dbt_invoker, not Meltano)",
    ]
    title = f"Volume scaling: four weeks at base volume {large:,} vs {small:,}"
    result = Result(METRIC, time_ratio, GOAL, title, args.quick, figures, notes)
    result.add_ratio(MEMORY_METRIC, max(memory_ratios.values()), MEMORY_GOAL)
    return result


if __name__ == "__main__":
    sys.exit(main(METRIC, measure, __doc__.splitlines()[0]))
