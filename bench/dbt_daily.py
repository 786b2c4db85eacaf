"""Benchmark 4: the daily dbt build on a one-year warehouse divided by the same on four weeks.

The daily job's dbt steps must cost what one new day costs, not what the warehouse holds.
Two warehouses are built here from an unpaced local server, each in an isolated Meltano
system database and dbt target folder: a year (2024-01-01..2024-12-30) and its last four
weeks (2024-12-03..2024-12-30), both at dev's base volume (5000).

1. each range extracted and loaded (`meltano run tap-simtom-bnpl target-duckdb-append`), then
   built once by `meltano run dbt-duckdb:build` (untimed for the ratio: the first build
   builds everything)
2. the same new day (2024-12-31, then 2025-01-01) extracted and loaded into both
3. the daily job's two dbt steps on each, as the job runs them, tests included:
   `meltano run dbt-duckdb:build-staging`, then `meltano run dbt-duckdb:build-marts` (the
   quality gate between them is not dbt and is left out), timed together

The warehouses take turns day by day, so load from other work on the machine falls on both;
each warehouse's faster day counts. Ratio: year / four weeks, goal <= 1.3. dbt's
run_results.json of both steps is the profile: the slowest nodes of each warehouse's daily
build and the nodes that grew most from four weeks to a year.

    .venv/bin/python -m bench.dbt_daily [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from bench.meltano import IsolatedMeltano, raw_row_count
from bench.project import DBT_VENV, MELTANO, TAP, TARGET_VENV, BenchError, days, require
from bench.results import Result, main, parser, workdir
from bench.server import SimtomProcess

METRIC = "dbt_daily_flat_in_history"
GOAL = "<= 1.3"
FIRST_DAY = date(2024, 1, 1)
# days: the long history, the short one (its last days), and the new days each gets.
FULL_DAYS, FULL_SHORT_DAYS, FULL_NEW_DAYS = 365, 28, 2
# The smallest histories with a long one longer than the short: the quick run's cost is six
# dbt invocations (two full builds, two daily builds of two steps), whatever the rows.
QUICK_DAYS, QUICK_SHORT_DAYS, QUICK_NEW_DAYS = 2, 1, 1
QUICK_VOLUME = 20
LOAD_PARALLEL = 4
DAILY_STEPS = ("dbt-duckdb:build-staging", "dbt-duckdb:build-marts")
TOP_NODES = 10


@dataclass
class Warehouse:
    """One history and its Meltano project: what it holds and what its daily builds cost."""

    label: str
    meltano: IsolatedMeltano
    start: date
    end: date
    transactions: int = 0
    full_build_seconds: float = 0.0
    full_build_dbt_elapsed: float = 0.0

    @property
    def target(self) -> Path:
        return self.meltano.workdir / "dbt-target"


def run_results(target: Path) -> dict:
    return json.loads((target / "run_results.json").read_text())


def node_seconds(results: list[dict]) -> dict[str, float]:
    """Seconds per dbt node (model, test, seed) of one or more run_results.json."""
    seconds: dict[str, float] = {}
    for result in results:
        for node in result["results"]:
            seconds[node["unique_id"]] = node.get("execution_time") or 0.0
    return seconds


def node_summary(results: list[dict]) -> dict:
    """What the daily build's dbt invocations spent their time on."""
    seconds = node_seconds(results)
    by_type: dict[str, float] = {}
    for unique_id, sec in seconds.items():
        kind = unique_id.split(".", 1)[0]
        by_type[kind] = by_type.get(kind, 0.0) + sec
    slowest = sorted(seconds.items(), key=lambda item: item[1], reverse=True)[:TOP_NODES]
    return {
        "dbt_elapsed_seconds": round(sum(r.get("elapsed_time") or 0.0 for r in results), 2),
        "nodes": len(seconds),
        "node_seconds_sum": round(sum(seconds.values()), 2),
        "node_seconds_by_type": {kind: round(sec, 2) for kind, sec in sorted(by_type.items())},
        "slowest_nodes": [[name, round(sec, 2)] for name, sec in slowest],
    }


def grown_nodes(short: dict[str, float], long: dict[str, float]) -> list[list]:
    """The nodes whose time grew most from the short history to the long one."""
    growth = {name: long[name] - short.get(name, 0.0) for name in long}
    ranked = sorted(growth.items(), key=lambda item: item[1], reverse=True)[:TOP_NODES]
    return [[name, round(delta, 2)] for name, delta in ranked]


def extract_load(warehouse: Warehouse, name: str, start: date, end: date, volume: int | None):
    """Extract and load start..end into the warehouse (unpaced server); the rows it added."""
    before = raw_row_count(warehouse.meltano.duckdb_path) if warehouse.transactions else 0
    extra = {
        "TAP_SIMTOM_BNPL_START_DATE": start.isoformat(),
        "TAP_SIMTOM_BNPL_END_DATE": end.isoformat(),
        "TAP_SIMTOM_BNPL_MAX_PARALLEL_REQUESTS": str(LOAD_PARALLEL),
    }
    if volume is not None:
        extra["TAP_SIMTOM_BNPL_BASE_DAILY_VOLUME"] = str(volume)
    warehouse.meltano.run(
        f"{warehouse.label}-{name}",
        "run",
        "--no-state-update",
        "--full-refresh",
        "tap-simtom-bnpl",
        "target-duckdb-append",
        **extra,
    )
    warehouse.transactions = raw_row_count(warehouse.meltano.duckdb_path)
    added = warehouse.transactions - before
    if added <= 0:
        raise BenchError(f"{warehouse.label}: loading {start}..{end} added no transactions")
    return added


def daily_build(warehouse: Warehouse, day: date) -> tuple[float, list[dict]]:
    """The daily job's dbt steps, each a `meltano run` of its own: wall seconds, run results."""
    seconds, results = 0.0, []
    for step in DAILY_STEPS:
        name = f"{warehouse.label}-{day}-{step.split(':')[1]}"
        seconds += warehouse.meltano.run(name, "run", step).seconds
        results.append(run_results(warehouse.target))
    return seconds, results


def measure(args: argparse.Namespace) -> Result:
    require(MELTANO, TAP, TARGET_VENV, DBT_VENV)
    work = workdir(METRIC, args.quick)
    volume = QUICK_VOLUME if args.quick else None
    long_days, short_days, new_days = (
        (QUICK_DAYS, QUICK_SHORT_DAYS, QUICK_NEW_DAYS)
        if args.quick
        else (FULL_DAYS, FULL_SHORT_DAYS, FULL_NEW_DAYS)
    )
    start, end = days(FIRST_DAY, long_days)
    short_start = end - timedelta(days=short_days - 1)
    with SimtomProcess(work) as server:
        warehouses = []
        for label, first in (("short", short_start), ("long", start)):
            folder = work / label
            folder.mkdir()
            meltano = IsolatedMeltano(folder, server.url, folder / "warehouse.duckdb")
            warehouses.append(Warehouse(label, meltano, first, end))
        short, long = warehouses
        # A warm-up keeps cold caches out of the timed runs; a quick run's times count for nothing.
        if not args.quick:
            short.meltano.run("warm-up", "config", "print", "dbt-duckdb")
        for warehouse in warehouses:
            extract_load(warehouse, "history", warehouse.start, warehouse.end, volume)
            built = warehouse.meltano.run(
                f"{warehouse.label}-full-build", "run", "dbt-duckdb:build"
            )
            warehouse.full_build_seconds = built.seconds
            warehouse.full_build_dbt_elapsed = run_results(warehouse.target)["elapsed_time"]
        builds: dict[str, list[tuple[float, list[dict]]]] = {"short": [], "long": []}
        new_day_rows: dict[str, int] = {}
        for offset in range(1, new_days + 1):
            day = end + timedelta(days=offset)
            for warehouse in warehouses:
                rows = extract_load(warehouse, f"{day}-extract-load", day, day, volume)
                new_day_rows.setdefault(day.isoformat(), rows)
                if new_day_rows[day.isoformat()] != rows:
                    raise BenchError(f"{day}: the two warehouses loaded different rows")
                builds[warehouse.label].append(daily_build(warehouse, day))
    short_seconds, short_results = min(builds["short"], key=lambda build: build[0])
    long_seconds, long_results = min(builds["long"], key=lambda build: build[0])
    short_nodes, long_nodes = node_summary(short_results), node_summary(long_results)
    ratio = long_seconds / short_seconds
    figures = {
        "four_weeks": f"{short.start}..{short.end}",
        "four_weeks_transactions": short.transactions,
        "year": f"{long.start}..{long.end}",
        "year_transactions": long.transactions,
        "history_ratio_transactions": round(long.transactions / short.transactions, 1),
        "new_days": ", ".join(new_day_rows),
        "new_day_transactions": ", ".join(str(rows) for rows in new_day_rows.values()),
        "four_weeks_daily_build_wall_seconds": round(short_seconds, 2),
        "year_daily_build_wall_seconds": round(long_seconds, 2),
        "four_weeks_daily_build_wall_seconds_each_day": [round(s, 2) for s, _ in builds["short"]],
        "year_daily_build_wall_seconds_each_day": [round(s, 2) for s, _ in builds["long"]],
        "four_weeks_daily_build_dbt_elapsed_seconds": short_nodes["dbt_elapsed_seconds"],
        "year_daily_build_dbt_elapsed_seconds": long_nodes["dbt_elapsed_seconds"],
        "four_weeks_daily_build_node_seconds": short_nodes["node_seconds_sum"],
        "year_daily_build_node_seconds": long_nodes["node_seconds_sum"],
        "node_seconds_year_vs_four_weeks": round(
            long_nodes["node_seconds_sum"] / short_nodes["node_seconds_sum"], 3
        ),
        "four_weeks_full_build_wall_seconds": round(short.full_build_seconds, 2),
        "year_full_build_wall_seconds": round(long.full_build_seconds, 2),
        "year_daily_build_vs_full_build": round(long_seconds / long.full_build_seconds, 3),
    }
    notes = [
        "daily build = `meltano run dbt-duckdb:build-staging` then `meltano run "
        "dbt-duckdb:build-marts`, the daily job's dbt steps with their data tests (scoped to "
        "the rows each step wrote; the full-history tests run weekly in job "
        "`test-full-history`); Meltano and dbt start-up and parsing included, the quality "
        "gate between the steps left out",
        f"each warehouse got {new_days} new day(s) in turn; its faster daily build counts",
        "node seconds: the sum of dbt's per-node execution times of both steps (dbt runs 2 "
        "threads, so it can exceed the elapsed time)",
    ]
    title = "dbt daily build: one-year warehouse vs four weeks"
    result = Result(METRIC, ratio, GOAL, title, args.quick, figures, notes)
    result.profile = {
        "tool": "dbt run_results.json of both steps",
        "four_weeks_daily_build": short_nodes,
        "year_daily_build": long_nodes,
        "grown_nodes": grown_nodes(node_seconds(short_results), node_seconds(long_results)),
    }
    return result


if __name__ == "__main__":
    sys.exit(main(METRIC, measure, __doc__.splitlines()[0], cli=parser(__doc__.splitlines()[0])))
