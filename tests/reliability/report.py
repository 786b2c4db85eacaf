"""Render docs/reliability.md from the results the reliability suite wrote.

    .venv/bin/pytest tests/reliability              # writes output/reliability/results.json
    .venv/bin/pytest tests/bigquery/test_preflight_bigquery.py   # .../bigquery.json
    python tests/reliability/report.py [--results PATH] [--bigquery-results PATH]
                                         [--output docs/reliability.md]

Every number in the page comes from the results file; nothing is typed by hand.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_RESULTS = ROOT / "output" / "reliability" / "results.json"
# Written by tests/bigquery/test_preflight_bigquery.py (the BigQuery jobs on the emulator).
DEFAULT_BIGQUERY_RESULTS = ROOT / "output" / "reliability" / "bigquery.json"
DEFAULT_OUTPUT = ROOT / "docs" / "reliability.md"

INTRO = """\
# Reliability: faults tried, rows lost, rows duplicated

Produced by the fault-injection suite `tests/reliability/` (pytest marker `reliability`)
and rendered by `tests/reliability/report.py` from the results file it writes; no number
below is typed by hand. Every run is the real daily job (`load-check:preflight-duckdb
tap-simtom-bnpl target-duckdb-append dbt-duckdb:build-staging quality:gate
dbt-duckdb:build-marts`, through `orchestrate/job_lock.py`) on a real DuckDB file,
against the local simtom-compatible server over loopback, whose fault switches inject the
faults. "Rows lost" counts keys of a clean run of the same window missing from the
staging, intermediate and mart models (for damaged lines: missing beyond the lines
quarantined); "rows duplicated" counts rows beyond one per key in those models. The raw
layer may hold replays by design; they are counted separately.

Regenerate: `.venv/bin/pytest tests/reliability tests/bigquery/test_preflight_bigquery.py
&& python tests/reliability/report.py` (the BigQuery rows run the `daily-bigquery` job
against the local BigQuery emulator).
"""


NOTES = """
## What the suite found, and what it does not cover

- **A plain rerun after `kill -9` is refused by Meltano.** A killed run stays marked as
  running in Meltano's system database, and `meltano run` refuses the pipeline until its
  heartbeat is stale ("Another ... pipeline is already running ... or ignore this check
  using the '--force' option"). `orchestrate/job_lock.py` holds a project-wide lock, so it can
  pass `--force` safely; every rerun in the kill test goes through it.
- **Meltano does not serialise whole jobs.** It refuses a second run of a pipeline only
  while the first is in its extract-load block; a second `meltano run daily` started while
  the first is in dbt runs alongside it and fails on the DuckDB file lock (table above).
- **A loader commit and its bookmark are two steps.** The loader passes a day's STATE on
  only with its next commit (every `batch_size_rows` rows; the kill test sets 50, about a
  day's transactions), which can be the commit of the next day's rows, and Meltano saves
  the bookmark after that; a kill in between leaves rows in raw without their bookmark,
  part of a day included, and the rerun extracts the day again (the "raw rows replayed"
  column of the kills). Staging keeps one row per key, so the marts do not change.
- **Killed runs leave secrets on disk.** Meltano writes each plugin's configuration,
  api_key included, to `.meltano/run/<plugin>/<tap|target>.<run id>.config.json` and
  deletes it only when the run ends; after `kill -9` the file stays. The lock wrapper
  deletes such files (they belong to no live run while it holds the lock).
- **Runs share `.meltano/run/`.** Two jobs of one project running at once (for example
  the `daily` and `daily-bigquery` schedules, both at 02:00) share the extractor's catalog
  file there; one run can delete it under the other. The lock is therefore one per project,
  not per job. The suite gives every test project its own `MELTANO_SYS_DIR_ROOT`.
- **Airflow steps take the same lock.** Every Airflow task runs its step through
  `orchestrate/job_lock.py` too, in a one-slot pool shared by all DAGs
  (docs/orchestration.md). `tests/test_airflow_dags_lock.py` runs two DAGs at once and,
  while an Airflow step runs, a `make run`-style locked run (refused with exit code 75)
  and one with `--wait` (waits its turn): no two steps overlapped.
- **A wrong BigQuery configuration is refused before the tap.** The BigQuery jobs start
  with `load-check:preflight`, which checks the project id, the raw dataset id and the
  location against BigQuery's naming rules and asks BigQuery whether the dataset exists in
  that location (or can be created); `tests/bigquery/test_preflight_bigquery.py` runs it on
  the local BigQuery emulator (one line, exit 1, no request to the API, no table, no state).
  Wrong credentials and a missing project can only be refused by BigQuery itself; this
  suite checks that credentials set in the environment never reach a log, the state, the
  warehouse or `meltano config list`.
"""


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    return str(value).replace("|", "\\|")


def summary_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| Fault tried | Injected | Runs | Job exit code | Rows lost | Rows duplicated "
        "| Raw replays (rows / days re-extracted) | Test |",
        "|:--|--:|--:|--:|--:|--:|--:|:--|",
    ]
    for row in rows:
        injected = _cell(row.get("injected"))
        if row.get("injected_by_kind") or row.get("injected_by_phase"):
            injected += f" ({_cell(row.get('injected_by_kind') or row.get('injected_by_phase'))})"
        replays = "-"
        if "raw_replayed_rows" in row:
            replays = f"{row['raw_replayed_rows']} / {row['days_reextracted']}"
        lines.append(
            f"| {_cell(row['fault'])} | {injected} | {_cell(row.get('runs'))} "
            f"| {_cell(row.get('job_exit_code'))} | {_cell(row.get('rows_lost'))} "
            f"| {_cell(row.get('rows_duplicated'))} | {replays} | {_cell(row.get('outcome'))} |"
        )
    return lines


def kills_table(row: dict[str, Any]) -> list[str]:
    pace = row.get("pace_seconds")
    lines = [
        "",
        "### The kills",
        "",
        "Each row is one `kill -9` of the `meltano run` process group (meltano, the tap, the "
        "loader, dbt or the gate), with the lock wrapper (`everything`) or without it "
        '(`group`); the next run is the same command again. "New days sent" is what the '
        "local server had streamed to the killed run beyond the saved bookmark"
        + (f" ({pace:g} s between days)" if pace else "")
        + '; "raw rows" were committed to `raw.transactions` when it died (replays '
        "included).",
        "",
        "| # | Killed | Aimed at | Moment | Phase hit | Mid-extraction | Seconds after start "
        "| New days sent | Raw rows at kill | Bookmark before -> after | Raw rows replayed "
        "| Leftover processes |",
        "|--:|:--|:--|:--|:--|:--|--:|--:|--:|:--|--:|:--|",
    ]
    for kill in row.get("kills", []):
        killed = kill.get("killed")
        marks = f"{_cell(kill.get('bookmark_before'))} -> {_cell(kill.get('bookmark'))}"
        lines.append(
            f"| {kill.get('run')} | {_cell(kill.get('mode') if killed else 'no')} "
            f"| {kill['target_phase']} | {_cell(kill.get('aimed'))} | {_cell(kill.get('phase'))} "
            f"| {_cell(kill.get('mid_extraction'))} | {_cell(kill.get('seconds_after_start'))} "
            f"| {_cell(kill.get('new_days_sent'))} | {_cell(kill.get('raw_rows_at_kill'))} "
            f"| {marks} | {_cell(kill.get('raw_replayed_rows'))} "
            f"| {_cell(kill.get('leftovers_alive'))} |"
        )
    if "batch_files_left_at_end" in row:
        lines += [
            "",
            "BATCH files no loader committed, left in the project's batch folder after the "
            f"final run: {row['batch_files_left_at_end']}; leftover files of killed runs the "
            f"tap deleted when the next run started: {_cell(row.get('batch_leftovers_deleted'))}.",
        ]
    probe = row.get("plain_meltano_rerun")
    if probe:
        lines += [
            "",
            "A plain `meltano run daily` (no lock wrapper) right after kill "
            f"{probe['after_kill']}: "
            f"exit code {probe['exit_code']}, refused as already running: "
            f"{_cell(probe['refused_as_already_running'])}.",
        ]
    return lines


def details(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["", "## Details", ""]
    for row in rows:
        if row.get("kills"):
            lines += kills_table(row)
        if row.get("plan"):
            lines += ["", "### Network faults, in the order the server served them", ""]
            for entry in row["plan"]:
                where = ""
                if "after_record" in entry:
                    where = f" after record {entry['after_record']} of {entry['of_records']}"
                lines.append(f"- request {entry['request']}: {entry['kind']}{where}")
            lines.append(
                f"- stream requests in all: {row.get('stream_requests')}; HTTP attempts in "
                f"the extraction log: {row.get('tap_attempts_logged')}"
            )
        if row.get("error_line"):
            title = "### Bad configuration: the error line each run printed"
            if title not in lines:
                lines += ["", title, ""]
            # The line as the tap wrote it, without Meltano's timestamp and level prefix.
            text = row["error_line"].split("tap-simtom-bnpl ", 1)[-1]
            lines.append(f"- {row['fault'].split(': ', 1)[-1]}: `{text}`")
        if "quarantined" in row:
            lines += [
                "",
                "### Damaged lines",
                "",
                f"- lines damaged: {row['injected']}, quarantined: {row['quarantined']}, "
                f"reported by the gate: {_cell(row.get('gate_reported_quarantined'))}",
            ]
        if "both_ran_at_once" in row:
            lines += [
                "",
                "### Two plain `meltano run` at once (no lock)",
                "",
                f"- first exit code {row['job_exit_code']}, second exit code "
                f"{row['second_exit_code']}; both ran at once: {_cell(row['both_ran_at_once'])}; "
                f"second refused as already running: "
                f"{_cell(row['second_refused_as_already_running'])}; DuckDB lock conflicts: "
                f"{row['lock_conflicts']}",
            ]
        if "leaks" in row:
            lines += [
                "",
                "### Secrets",
                "",
                f"- searched: {', '.join(row['places_searched'])}",
                f"- leaks found: {len(row['leaks'])}",
            ]
            lines += [f"  - {leak}" for leak in row["leaks"]]
    return lines


def render(document: dict[str, Any]) -> str:
    machine = document.get("machine", {})
    lines = [INTRO]
    lines.append(
        f"Last run: {document.get('generated_at')} at commit {document.get('commit')}; the "
        f"suite took {document.get('suite_seconds')} s on {machine.get('cpus')} CPUs "
        f"(load average {machine.get('load_average_at_start')} at start, "
        f"{machine.get('load_average_at_end')} at end; Python {machine.get('python')})."
        + (
            f" BigQuery rows: {document['bigquery_generated_at']}."
            if document.get("bigquery_generated_at")
            else ""
        )
    )
    lines += ["", "## Faults tried", ""]
    lines += summary_table(document["rows"])
    lines += details(document["rows"])
    lines.append(NOTES)
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument(
        "--bigquery-results",
        type=Path,
        default=DEFAULT_BIGQUERY_RESULTS,
        help="rows of the BigQuery bad-configuration tests, merged in when the file exists",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    if not args.results.is_file():
        print(
            f"reliability report: {args.results} not found; run the suite first "
            "(.venv/bin/pytest tests/reliability)",
            file=sys.stderr,
        )
        return 1
    document = json.loads(args.results.read_text())
    if args.bigquery_results.is_file():
        extra = json.loads(args.bigquery_results.read_text())
        # Beside the other bad-configuration rows, so their error lines list together.
        rows = document["rows"]
        bad = [i for i, row in enumerate(rows) if row["fault"].startswith("bad configuration")]
        at = bad[-1] + 1 if bad else len(rows)
        document["rows"] = rows[:at] + extra["rows"] + rows[at:]
        document["bigquery_generated_at"] = extra.get("generated_at")
    args.output.write_text(render(document))
    print(f"reliability report: wrote {args.output} ({len(document['rows'])} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
