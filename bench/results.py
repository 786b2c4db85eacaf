"""How a benchmark's result is printed (figures, then one JSON line) and kept."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.machine import load_average, machine_info
from bench.project import (
    DBT_VENV,
    QUICK_DIR,
    RESULTS_DIR,
    ROOT,
    TARGET_VENV,
    WORK_DIR,
    BenchError,
    plugin_version,
)
from bench.report import format_value, profile_lines, write_report


def goal_met(ratio: float, goal: str) -> bool:
    """Whether `ratio` meets a goal written as ">= 0.33" or "<= 1.2"."""
    operator, _, bound = goal.partition(" ")
    if operator not in (">=", "<="):
        raise ValueError(f"goal: expected '>= N' or '<= N', got {goal!r}")
    return ratio >= float(bound) if operator == ">=" else ratio <= float(bound)


@dataclass
class Result:
    """One benchmark's outcome: figures for people, one JSON line for machines."""

    metric: str
    ratio: float
    goal: str | None  # None: a figure kept without a goal
    title: str
    quick: bool
    figures: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    profile: dict[str, Any] | None = None
    # Further ratios with goals of the same run (shown in the docs, not the JSON line).
    also: list[dict[str, Any]] = field(default_factory=list)

    @property
    def met(self) -> bool | None:
        return None if self.goal is None else goal_met(self.ratio, self.goal)

    def add_ratio(self, metric: str, ratio: float, goal: str) -> None:
        """Another ratio with its own goal, measured in the same run."""
        self.also.append(
            {"metric": metric, "ratio": round(ratio, 3), "goal": goal, "met": goal_met(ratio, goal)}
        )

    def summary_line(self) -> dict[str, Any]:
        return {"metric": self.metric, "ratio": round(self.ratio, 3), "goal": self.goal}

    def save(
        self, machine: dict[str, Any], started: str, seconds: float, load: list[float]
    ) -> Path:
        directory = QUICK_DIR if self.quick else RESULTS_DIR
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.metric}.json"
        payload = {
            **self.summary_line(),
            "met": self.met,
            "title": self.title,
            "quick": self.quick,
            "started_at": started,
            "duration_seconds": round(seconds, 1),
            "load_average_before": load,
            "load_average_after": load_average(),
            "machine": machine,
            "figures": self.figures,
            "notes": self.notes,
            "profile": self.profile,
            "also": self.also,
        }
        path.write_text(json.dumps(payload, indent=2) + "\n")
        return path


def parser(description: str) -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(description=description)
    cli.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes for a smoke test; the result goes to output/bench/quick, not the docs",
    )
    cli.add_argument(
        "--no-profile",
        action="store_true",
        help="skip the profile taken when the goal is missed",
    )
    return cli


def workdir(metric: str, quick: bool) -> Path:
    path = (QUICK_DIR if quick else WORK_DIR) / metric
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def main(
    metric: str,
    measure: Callable[[argparse.Namespace], Result],
    description: str,
    argv: Sequence[str] | None = None,
    cli: argparse.ArgumentParser | None = None,
) -> int:
    """Run `measure(args) -> Result`, print its figures and, last, its JSON line."""
    args = (cli or parser(description)).parse_args(argv)
    machine = machine_info()
    machine["plugin_versions"] = {
        "target-duckdb-append": plugin_version(TARGET_VENV, "target-duckdb-append"),
        "dbt-core": plugin_version(DBT_VENV, "dbt-core"),
        "dbt-duckdb": plugin_version(DBT_VENV, "dbt-duckdb"),
    }
    load = load_average()
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    clock = time.perf_counter()
    if args.quick:
        args.no_profile = True  # a smoke test checks the output, not the speed
    try:
        result: Result = measure(args)
    except BenchError as exc:
        print(f"{metric}: {exc}", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - clock
    path = result.save(machine, started, seconds, load)
    if not result.quick:
        write_report()
    print(f"{result.title}{' (quick)' if result.quick else ''}")
    for name, value in result.figures.items():
        print(f"  {name}: {format_value(value)}")
    for note in result.notes:
        print(f"  note: {note}")
    if result.profile:
        print("\n".join(f"  {line}" for line in profile_lines(result.profile) if line))
    for row in result.also:
        print(f"  also: {row['metric']} {row['ratio']} (goal {row['goal']}, met: {row['met']})")
    verdict = "no goal" if result.met is None else "goal met" if result.met else "goal MISSED"
    print(f"  {verdict}; {seconds:.0f} s in all; saved {path.relative_to(ROOT)}")
    print(json.dumps(result.summary_line()), flush=True)
    return 0
