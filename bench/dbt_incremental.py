"""Benchmark 4: dbt's daily run on the full-year warehouse divided by a full refresh.

On a copy of a year's warehouse (--warehouse PATH, else the year bench/backfill.py loaded,
else a year loaded here from an unpaced server), in an isolated Meltano system database and
dbt target folder:

1. `meltano run dbt-duckdb:build` once, untimed: builds every model and parses the project
   (skipped with --quick)
2. `meltano run dbt-duckdb:full-refresh` (dbt build --full-refresh), timed
3. the next day extracted and loaded (`meltano run tap-simtom-bnpl target-duckdb-append`), timed
   for the record but not part of the ratio
4. `meltano run dbt-duckdb:build` (what the daily job's two dbt steps, build-staging and
   build-marts, build between them, in one invocation: incremental marts merge the new day
   plus the lookback), timed
5. the same build again with no new rows, timed: the fixed cost of any daily run

Ratio: daily dbt run / full refresh; goal <= 0.1. dbt's run_results.json of both runs is
the profile: time per model and test, and how much of the wall clock is no node at all
(Meltano and dbt start-up, parsing).

    .venv/bin/python -m bench.dbt_incremental [--quick] [--warehouse PATH]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from datetime import date, timedelta
from pathlib import Path

from bench.backfill import FIRST_DAY, FULL_DAYS, WAREHOUSE, WAREHOUSE_INFO
from bench.meltano import IsolatedMeltano, raw_row_count
from bench.project import DBT_VENV, MELTANO, TAP, TARGET_VENV, BenchError, days, require
from bench.results import Result, main, parser, workdir
from bench.server import SimtomProcess

METRIC = "dbt_incremental_vs_full_refresh"
GOAL = "<= 0.1"
QUICK_DAYS = 14
QUICK_VOLUME = 200
LOAD_PARALLEL = 4
TOP_NODES = 8


def node_timings(target: Path) -> dict:
    """What a dbt invocation spent its time on, from run_results.json."""
    results = json.loads((target / "run_results.json").read_text())
    nodes = sorted(
        results["results"], key=lambda node: node.get("execution_time") or 0.0, reverse=True
    )
    total = sum(node.get("execution_time") or 0.0 for node in nodes)
    by_type: dict[str, float] = {}
    for node in nodes:
        kind = node["unique_id"].split(".", 1)[0]
        by_type[kind] = by_type.get(kind, 0.0) + (node.get("execution_time") or 0.0)
    return {
        "dbt_elapsed_seconds": round(results.get("elapsed_time") or 0.0, 2),
        "nodes": len(nodes),
        "node_seconds_sum": round(total, 2),
        "node_seconds_by_type": {kind: round(sec, 2) for kind, sec in sorted(by_type.items())},
        "slowest_nodes": [
            [node["unique_id"], round(node.get("execution_time") or 0.0, 2)]
            for node in nodes[:TOP_NODES]
        ],
    }


def load_year(meltano: IsolatedMeltano, start: date, end: date, volume: int | None) -> None:
    """Extract and load start..end into the benchmark's warehouse (unpaced server)."""
    extra = {
        "TAP_SIMTOM_BNPL_START_DATE": start.isoformat(),
        "TAP_SIMTOM_BNPL_END_DATE": end.isoformat(),
        "TAP_SIMTOM_BNPL_MAX_PARALLEL_REQUESTS": str(LOAD_PARALLEL),
    }
    if volume is not None:
        extra["TAP_SIMTOM_BNPL_BASE_DAILY_VOLUME"] = str(volume)
    meltano.run(
        "load-year",
        "run",
        "--no-state-update",
        "--full-refresh",
        "tap-simtom-bnpl",
        "target-duckdb-append",
        **extra,
    )


def raw_date_range(duckdb_path: Path) -> tuple[date, date]:
    """First and last transaction_date in a warehouse's raw.transactions."""
    import duckdb

    con = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        first, last = con.execute(
            "SELECT min(transaction_date)::DATE, max(transaction_date)::DATE FROM raw.transactions"
        ).fetchone()
    finally:
        con.close()
    if first is None:
        raise BenchError(f"{duckdb_path}: raw.transactions is empty")
    return first, last


def measure(args: argparse.Namespace) -> Result:
    require(MELTANO, TAP, TARGET_VENV, DBT_VENV)
    work = workdir(METRIC, args.quick)
    warehouse = work / "year.duckdb"
    volume = QUICK_VOLUME if args.quick else None
    start, end = days(FIRST_DAY, QUICK_DAYS if args.quick else FULL_DAYS)
    with SimtomProcess(work) as server:
        meltano = IsolatedMeltano(work, server.url, warehouse)
        meltano.run("warm-up", "config", "print", "dbt-duckdb")
        origin = "loaded by this run (no warehouse from bench/backfill.py)"
        if args.warehouse is not None:
            if not args.warehouse.is_file():
                raise BenchError(f"--warehouse: no DuckDB file at {args.warehouse}")
            shutil.copyfile(args.warehouse, warehouse)
            start, end = raw_date_range(warehouse)
            origin = f"a copy of {args.warehouse}"
        elif not args.quick and WAREHOUSE.exists() and WAREHOUSE_INFO.exists():
            info = json.loads(WAREHOUSE_INFO.read_text())
            start, end = date.fromisoformat(info["start"]), date.fromisoformat(info["end"])
            shutil.copyfile(WAREHOUSE, warehouse)
            origin = "a copy of the year bench/backfill.py loaded"
        else:
            load_year(meltano, start, end, volume)
        year_rows = raw_row_count(warehouse)
        target = work / "dbt-target"
        if not args.quick:
            # A full refresh replaces what exists; a first build would only create it.
            meltano.run("dbt-initial-build", "run", "dbt-duckdb:build")
        full = meltano.run("dbt-full-refresh", "run", "dbt-duckdb:full-refresh")
        full_nodes = node_timings(target)
        next_day = end + timedelta(days=1)
        day_extra = {
            "TAP_SIMTOM_BNPL_START_DATE": next_day.isoformat(),
            "TAP_SIMTOM_BNPL_END_DATE": next_day.isoformat(),
        }
        if volume is not None:
            day_extra["TAP_SIMTOM_BNPL_BASE_DAILY_VOLUME"] = str(volume)
        new_day = meltano.run(
            "load-next-day",
            "run",
            "--no-state-update",
            "--full-refresh",
            "tap-simtom-bnpl",
            "target-duckdb-append",
            **day_extra,
        )
        day_rows = raw_row_count(warehouse) - year_rows
        if day_rows <= 0:
            raise BenchError(f"loading {next_day} added no transactions")
        daily = meltano.run("dbt-daily-build", "run", "dbt-duckdb:build")
        daily_nodes = node_timings(target)
        # The same build again with nothing new: what every daily run costs whatever its
        # data (start-up, parsing, one query or more per node), the floor of the ratio.
        idle = meltano.run("dbt-build-no-new-rows", "run", "dbt-duckdb:build")
        idle_nodes = node_timings(target)
    ratio = daily.seconds / full.seconds
    figures = {
        "warehouse": origin,
        "year": f"{start}..{end}",
        "year_transactions": year_rows,
        "new_day": next_day.isoformat(),
        "new_day_transactions": day_rows,
        "full_refresh_wall_seconds": round(full.seconds, 2),
        "daily_build_wall_seconds": round(daily.seconds, 2),
        "new_day_extract_load_wall_seconds": round(new_day.seconds, 2),
        "full_refresh_dbt_elapsed_seconds": full_nodes["dbt_elapsed_seconds"],
        "daily_build_dbt_elapsed_seconds": daily_nodes["dbt_elapsed_seconds"],
        "no_new_rows_build_wall_seconds": round(idle.seconds, 2),
        "no_new_rows_build_dbt_elapsed_seconds": idle_nodes["dbt_elapsed_seconds"],
        "no_new_rows_build_nodes": idle_nodes["nodes"],
        "no_new_rows_build_vs_full_refresh": round(idle.seconds / full.seconds, 3),
        # Meltano and dbt start-up, parsing, catalog writes: paid by every run, whatever its size.
        "daily_build_seconds_outside_dbt_execution": round(
            daily.seconds - daily_nodes["dbt_elapsed_seconds"], 2
        ),
    }
    notes = [
        "wall times are whole `meltano run` invocations: Meltano start-up, dbt start-up and "
        "parsing included; dbt runs 2 threads (profiles.yml), so node seconds can exceed "
        "dbt's elapsed time",
        "no_new_rows_build: `dbt-duckdb:build` once more right after the daily build, with "
        "no row loaded in between; its ratio to the full refresh is the lowest a daily "
        "run of this project can reach on this machine",
    ]
    title = "Incremental dbt: daily run vs full refresh"
    result = Result(METRIC, ratio, GOAL, title, args.quick, figures, notes)
    # Cheap and always useful: where each dbt run spent its time.
    result.profile = {
        "tool": "dbt run_results.json",
        "full_refresh": full_nodes,
        "daily_build": daily_nodes,
        "no_new_rows_build": idle_nodes,
    }
    return result


def cli() -> argparse.ArgumentParser:
    command = parser(__doc__.splitlines()[0])
    command.add_argument(
        "--warehouse",
        type=Path,
        help="DuckDB file whose raw layer holds the year (copied, never changed)",
    )
    return command


if __name__ == "__main__":
    sys.exit(main(METRIC, measure, __doc__.splitlines()[0], cli=cli()))
