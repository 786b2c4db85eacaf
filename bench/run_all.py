"""Run every benchmark, one after the other, then write docs/benchmarks.md.

Each benchmark runs in its own process and prints its figures and, last, its JSON line;
this runner repeats the JSON lines at the end. Never run two benchmarks at once: they would
share the machine's cores and measure each other.

    .venv/bin/python -m bench.run_all [--quick] [--only MODULE ...]

Exit code 1 when a benchmark could not run; a missed goal is a result, not a failure.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from bench.project import ROOT
from bench.report import write_report

MODULES = (
    "tap_throughput",
    "tap_memory",
    "extract_load",
    "backfill",
    "backfill_memory",
    "dbt_daily",
    "volume_scaling",
)


def run(module: str, quick: bool) -> dict | None:
    """Run one benchmark with its output passed through; its JSON line, or None."""
    print(f"== bench.{module}{' --quick' if quick else ''}", flush=True)
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", f"bench.{module}", *(["--quick"] if quick else [])],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    last = ""
    for line in process.stdout:
        print(line, end="", flush=True)
        if line.strip():
            last = line.strip()
    process.wait()
    print(f"== bench.{module}: exit {process.returncode} in {time.perf_counter() - started:.0f} s")
    if process.returncode != 0:
        return None
    return json.loads(last)


def main(argv: list[str] | None = None) -> int:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--quick", action="store_true", help="tiny sizes (smoke test); docs untouched")
    cli.add_argument("--only", nargs="+", choices=MODULES, help="run only these benchmarks")
    args = cli.parse_args(argv)
    lines, failed = [], []
    for module in args.only or MODULES:
        line = run(module, args.quick)
        if line is None:
            failed.append(module)
        else:
            lines.append(line)
    if not args.quick:
        print(f"wrote {write_report().relative_to(ROOT)}")
    print("== results")
    for line in lines:
        print(json.dumps(line))
    if failed:
        print(f"could not run: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
