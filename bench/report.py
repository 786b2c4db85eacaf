"""Write docs/benchmarks.md from the stored results (bench/results/*.json).

Every number in the page comes from a result file a benchmark wrote; nothing is typed in.

    .venv/bin/python -m bench.report
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.project import RESULTS_DIR, ROOT

DOC = ROOT / "docs" / "benchmarks.md"
ORDER = (
    "extract_load_vs_tap",
    "source_paced_backfill",
    "dbt_daily_flat_in_history",
    "tap_peak_rss_365_vs_7_days",
    "backfill_memory_16_vs_1_windows",
    "volume_scaling_time",
    "tap_vs_raw_parse",
)
COMMANDS = {
    "tap_vs_raw_parse": "tap_throughput",
    "extract_load_vs_tap": "extract_load",
    "source_paced_backfill": "backfill",
    "dbt_daily_flat_in_history": "dbt_daily",
    "tap_peak_rss_365_vs_7_days": "tap_memory",
    "backfill_memory_16_vs_1_windows": "backfill_memory",
    "volume_scaling_time": "volume_scaling",
}

INTRO = """\
# Benchmarks

Written by `bench/report.py` from the result files in `bench/results/`, which the benchmarks
in `bench/` write on a full run (`make bench` runs them all, one after the other). Each
benchmark prints its figures and, as its last line, one JSON object with its ratio and goal
(a goal of `null`, "—" in the table, marks a ratio kept as a figure without a goal).
A benchmark run alone (`.venv/bin/python -m bench.<module>`) rewrites its own section;
`--quick` runs tiny sizes for a smoke test and never touches this page.

The server is `simtom-local` (the project's simtom-compatible server) in its own process on
loopback; every ratio divides two figures measured in the same run, on the same machine.
A load average above the machine's CPU count means other work shared its cores during the
run: wall-clock ratios suffer first, while CPU-second figures and the profiles (py-spy
samples of every thread, dbt's node timings) show what bounds each pipeline regardless.

The one-off measurements behind individual settings (the loader's commit size and
checkpoint threshold, dbt's threads, ...) are not repeated here: see
[tuning.md](tuning.md), written by hand.
"""


def format_value(value: Any) -> str:
    """A figure as the benchmarks print it: thousands separators, 3 or 1 decimals."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


def _value(value: Any) -> str:
    # Lists and dicts are JSON; on the page they read better as code.
    if isinstance(value, dict | list):
        return f"`{json.dumps(value)}`"
    return format_value(value)


def _machine(machine: dict) -> str:
    versions = {**machine.get("versions", {}), **(machine.get("plugin_versions") or {})}
    tools = ", ".join(f"{name} {version}" for name, version in versions.items() if version)
    return (
        f"{machine['cpu']}, {machine['logical_cpus']} logical CPUs, {machine['memory_gib']} GiB; "
        f"{machine['os']}; Python {machine['python']}; {tools}; commit {machine['commit']}"
    )


def _threads(threads: dict, indent: str) -> list[str]:
    lines = []
    for group, thread in threads.items():
        busy = thread.get("on_cpu_cores", thread.get("on_cpu_share_of_wall", 0.0))
        lines.append(
            f"{indent}- thread `{group}` ({thread['threads']} thread(s)): on CPU "
            f"{busy:.0%} of the wall clock"
        )
        lines.append(
            f"{indent}  - self: "
            + "; ".join(f"{name} {share:.0%}" for name, share in thread["top_self"][:8])
        )
        lines.append(
            f"{indent}  - inclusive: "
            + "; ".join(f"{name} {share:.0%}" for name, share in thread["top_inclusive"][:8])
        )
    return lines


def _entries(profile: dict, indent: str) -> list[str]:
    lines = []
    for key, value in profile.items():
        if key in {"tool", "seconds", "rate_hz", "raw"}:
            continue
        if key == "threads":
            lines += _threads(value, indent)
        elif key == "per_process":
            for label, sub in value.items():
                seconds = f", {sub['seconds']} s sampled" if "seconds" in sub else ""
                lines.append(f"{indent}- process `{label}`{seconds}:")
                lines += _entries(sub, indent + "  ")
        elif key in ("slowest_nodes", "grown_nodes"):
            label = "slowest nodes" if key == "slowest_nodes" else "grew most (seconds added)"
            lines.append(
                f"{indent}- {label}: "
                + "; ".join(f"`{name}` {seconds} s" for name, seconds in value)
            )
        elif key == "largest_live_allocations_at_end":
            for item in value:
                where = " <- ".join(item["where"][::-1][:3])
                lines.append(f"{indent}- {item['mib']} MiB in {item['blocks']} blocks: {where}")
        elif isinstance(value, dict) and key != "node_seconds_by_type":
            lines.append(f"{indent}- {key}:")
            lines += _entries(value, indent + "  ")
        else:
            lines.append(f"{indent}- {key}: {_value(value)}")
    return lines


def profile_lines(profile: dict) -> list[str]:
    """A profile (py-spy summary, dbt node timings, tracemalloc) as Markdown lines."""
    if "error" in profile:
        return [f"Profile: {profile['error']}", ""]
    seconds = f", {profile['seconds']} s" if "seconds" in profile else ""
    return [
        f"Profile ({profile.get('tool', 'see below')}{seconds}):",
        "",
        *_entries(profile, ""),
        "",
    ]


def _verdict(row: dict) -> str:
    if row.get("goal") is None:
        return "a figure without a goal"
    return "goal met" if row["met"] else "goal **missed**"


def _met(row: dict) -> str:
    """The summary table's met column: "—" where there is no goal to meet."""
    if row.get("goal") is None:
        return "—"
    return "yes" if row["met"] else "no"


def _section(result: dict) -> list[str]:
    lines = [
        f"## {result['title']}",
        "",
        f"`{json.dumps({k: result[k] for k in ('metric', 'ratio', 'goal')})}` ({_verdict(result)})",
        "",
        *(
            f"Also: `{json.dumps({k: row[k] for k in ('metric', 'ratio', 'goal')})}` "
            f"({_verdict(row)})\n"
            for row in result.get("also", [])
        ),
        f"Command: `.venv/bin/python -m bench.{COMMANDS[result['metric']]}`; run "
        f"{result['started_at']}, {result['duration_seconds']} s; load average before "
        f"{result['load_average_before']}, after {result['load_average_after']}.",
        "",
        f"Machine: {_machine(result['machine'])}.",
        "",
        "| figure | value |",
        "| --- | --- |",
    ]
    lines += [f"| {name} | {_value(value)} |" for name, value in result["figures"].items()]
    lines.append("")
    lines += [f"- {note}" for note in result.get("notes", [])]
    if result.get("notes"):
        lines.append("")
    if result.get("profile"):
        lines += profile_lines(result["profile"])
    return lines


def write_report(path: Path = DOC, results_dir: Path = RESULTS_DIR) -> Path:
    """Render every result stored in `results_dir` into `path`."""
    results = {}
    for file in sorted(results_dir.glob("*.json")):
        result = json.loads(file.read_text())
        results[result["metric"]] = result
    lines = [INTRO]
    lines += ["| metric | ratio | goal | met |", "| --- | --- | --- | --- |"]
    for metric in ORDER:
        if metric in results:
            result = results[metric]
            for row in [result, *result.get("also", [])]:
                lines.append(
                    f"| {row['metric']} | {row['ratio']} | {row.get('goal') or '—'} | {_met(row)} |"
                )
        else:
            lines.append(f"| {metric} | not run yet | | |")
    lines.append("")
    for metric in ORDER:
        if metric in results:
            lines += _section(results[metric])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines).rstrip() + "\n")
    return path


if __name__ == "__main__":
    print(write_report().relative_to(ROOT))
