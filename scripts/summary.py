"""Print a short summary of the DuckDB warehouse after a job run.

Rows per raw and mart table, the days loaded, the quality gate's latest verdict, and where
the DuckDB file and the HTML reports are. Reads the file read-only, so it never changes
what it reports on.

    python scripts/summary.py [--duckdb PATH] [--output DIR] [--job-exit-code N]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
RAW_TABLES = ("transactions", "customers", "extraction_log", "quarantine")


def table_counts(con: duckdb.DuckDBPyConnection, schema: str) -> dict[str, int]:
    """Row count of every table and view in `schema`, by name."""
    names = [
        row[0]
        for row in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ? "
            "ORDER BY table_name",
            [schema],
        ).fetchall()
    ]
    return {
        name: con.execute(f'SELECT count(*) FROM "{schema}"."{name}"').fetchone()[0]
        for name in names
    }


def loaded_days(con: duckdb.DuckDBPyConnection) -> tuple[str, str, int] | None:
    """First day, last day and number of distinct days in raw.transactions."""
    row = con.execute(
        "SELECT min(transaction_date)::VARCHAR, max(transaction_date)::VARCHAR, "
        "count(DISTINCT transaction_date) FROM raw.transactions"
    ).fetchone()
    return None if row is None or row[0] is None else (row[0], row[1], row[2])


def latest_gate_run(con: duckdb.DuckDBPyConnection) -> dict | None:
    """The newest row of quality.gate_runs, or None when the gate never ran."""
    cursor = con.execute("SELECT * FROM quality.gate_runs ORDER BY run_time DESC LIMIT 1")
    row = cursor.fetchone()
    if row is None:
        return None
    return dict(zip([d[0] for d in cursor.description], row, strict=True))


def html_reports(output_dir: Path) -> list[Path]:
    """The HTML entry points under output/: run reports and the Data Docs index pages."""
    found = [
        path
        for path in sorted(output_dir.rglob("*.html"))
        if path.name in ("index.html", "report.html") or path.parent.name == "reports"
    ]
    # Data Docs holds one page per validation; the index is the entry point.
    return [p for p in found if "validations" not in p.parts and "expectations" not in p.parts]


def relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def summarise(db_path: Path, output_dir: Path, job_exit_code: int | None) -> list[str]:
    """The summary as lines of text."""
    lines = ["", "=== BNPL pipeline summary ==="]
    if job_exit_code is not None:
        lines.append(f"job exit code     {job_exit_code}" + ("" if job_exit_code else " (ok)"))
    if not db_path.is_file():
        lines.append(f"DuckDB file       {relative(db_path)} does not exist (no data loaded yet)")
        return lines
    lines.append(f"DuckDB file       {relative(db_path)}")
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        schemas = {r[0] for r in con.execute("SELECT schema_name FROM duckdb_schemas()").fetchall()}
        if "raw" in schemas:
            raw = table_counts(con, "raw")
            lines.append("raw tables")
            for name in RAW_TABLES:
                lines.append(f"  raw.{name:<30} {raw.get(name, 0):>10,} rows")
            if "transactions" in raw and (days := loaded_days(con)):
                lines.append(f"  days loaded       {days[0]} .. {days[1]} ({days[2]} days)")
        else:
            lines.append("raw tables        none (the loader has not written yet)")
        if "marts" in schemas:
            lines.append("mart tables")
            for name, count in table_counts(con, "marts").items():
                lines.append(f"  marts.{name:<28} {count:>10,} rows")
        else:
            lines.append("mart tables       none (dbt has not built them)")
        if "quality" in schemas and (run := latest_gate_run(con)):
            lines.append(
                f"quality gate      {str(run.get('verdict', '?')).upper()} "
                f"(run {run.get('run_id')}, days {run.get('first_checked_day')}.."
                f"{run.get('last_checked_day')}, {run.get('critical_failures', 0)} critical "
                f"failure(s), {run.get('warnings', 0)} warning(s))"
            )
        else:
            lines.append("quality gate      no result recorded")
    finally:
        con.close()
    reports = html_reports(output_dir)
    if reports:
        lines.append("HTML reports")
        lines.extend(f"  {relative(path)}" for path in reports)
    else:
        lines.append(f"HTML reports      none under {relative(output_dir)}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_db = os.environ.get("BNPL_DUCKDB_PATH") or str(ROOT / "output" / "bnpl.duckdb")
    parser.add_argument("--duckdb", type=Path, default=Path(default_db), help="DuckDB file")
    parser.add_argument("--output", type=Path, default=ROOT / "output", help="output folder")
    parser.add_argument("--job-exit-code", type=int, help="exit code of the job, to print")
    args = parser.parse_args(argv)
    print("\n".join(summarise(args.duckdb, args.output, args.job_exit_code)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
