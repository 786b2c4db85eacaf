"""``bnpl-quality gate`` and ``bnpl-quality docs``.

Every option falls back to an environment variable, which is how Meltano hands the
utility's settings over (plugins/quality.meltano.yml maps each setting to the name below).
Exit codes: 0 the gate passed (warnings allowed), 1 it failed, 2 bad settings.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa

from bnpl_quality.config import WAREHOUSES, ConfigError, GateConfig, Tables
from bnpl_quality.days import parse_days
from bnpl_quality.volume import DEFAULT_HIGH_SLACK, DEFAULT_LOW_SLACK

ENV = {
    "warehouse": "BNPL_QUALITY_WAREHOUSE",
    "duckdb_path": "BNPL_DUCKDB_PATH",
    "bigquery_project": "BNPL_GCP_PROJECT",
    "bigquery_location": "BNPL_BQ_LOCATION",
    "days": "BNPL_QUALITY_DAYS",
    "expected_volume": "BNPL_QUALITY_EXPECTED_VOLUME",
    "holiday_country": "BNPL_QUALITY_HOLIDAY_COUNTRY",
    "fail_on_drift": "BNPL_QUALITY_FAIL_ON_DRIFT",
    "report_dir": "BNPL_QUALITY_REPORT_DIR",
    "transactions_table": "BNPL_QUALITY_TRANSACTIONS_TABLE",
    "extraction_log_table": "BNPL_QUALITY_EXTRACTION_LOG_TABLE",
    "quarantine_table": "BNPL_QUALITY_QUARANTINE_TABLE",
    "staging_transactions_table": "BNPL_QUALITY_STAGING_TRANSACTIONS_TABLE",
    "reconciliation_table": "BNPL_QUALITY_RECONCILIATION_TABLE",
    "staging_date_column": "BNPL_QUALITY_STAGING_DATE_COLUMN",
    "results_table": "BNPL_QUALITY_RESULTS_TABLE",
    "runs_table": "BNPL_QUALITY_RUNS_TABLE",
    "band_low_slack": "BNPL_QUALITY_BAND_LOW_SLACK",
    "band_high_slack": "BNPL_QUALITY_BAND_HIGH_SLACK",
    "mix_tolerance": "BNPL_QUALITY_MIX_TOLERANCE",
    "max_quarantine_share": "BNPL_QUALITY_MAX_QUARANTINE_SHARE",
    "data_docs": "BNPL_QUALITY_DATA_DOCS",
}


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(ENV[name])
    return value if value not in (None, "") else default


def _bool(name: str, text: str | None) -> bool:
    if text is None:
        return False
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{name}: {text!r} is not a boolean (expected true or false)")


def _number(name: str, text: str | None, kind: type) -> float | int | None:
    if text is None:
        return None
    try:
        return kind(text)
    except ValueError as exc:
        raise ConfigError(f"{name}: {text!r} is not a {kind.__name__}") from exc


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bnpl-quality",
        description="Great Expectations quality gate for the BNPL warehouse.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    gate = sub.add_parser(
        "gate",
        help="run checkpoint daily_quality_gate; exit 1 when it fails",
        description=(
            "Validate the newly loaded days (or --days) with the suites bnpl_business_rules "
            "and bnpl_statistical_patterns, append the results to the warehouse, write "
            "the HTML report and Data Docs, print a summary."
        ),
    )
    docs = sub.add_parser("docs", help="(re)build Great Expectations Data Docs")
    for p in (gate, docs):
        p.add_argument("--report-dir", help=f"output folder [{ENV['report_dir']}; output/quality]")
    gate.add_argument("--warehouse", choices=WAREHOUSES, help=f"[{ENV['warehouse']}; duckdb]")
    gate.add_argument("--duckdb-path", help=f"[{ENV['duckdb_path']}; output/bnpl.duckdb]")
    gate.add_argument("--bigquery-project", help=f"[{ENV['bigquery_project']}]")
    gate.add_argument("--bigquery-location", help=f"[{ENV['bigquery_location']}; US]")
    gate.add_argument(
        "--days",
        help=(
            "'new' (days whose latest extraction no passing gate run has covered), 'all', or "
            f"days/ranges: 2024-11-25..2024-12-01,2024-12-24 [{ENV['days']}; new]"
        ),
    )
    gate.add_argument(
        "--expected-volume",
        help="base daily volume to expect instead of extraction_log.base_daily_volume "
        f"[{ENV['expected_volume']}]",
    )
    gate.add_argument(
        "--holiday-country", help=f"holidays calendar for day types [{ENV['holiday_country']}; US]"
    )
    drift = gate.add_mutually_exclusive_group()
    drift.add_argument(
        "--fail-on-drift",
        dest="fail_on_drift",
        action="store_const",
        const="true",
        help=f"statistical drift fails the gate [{ENV['fail_on_drift']}; false]",
    )
    drift.add_argument(
        "--no-fail-on-drift", dest="fail_on_drift", action="store_const", const="false"
    )
    for key in (
        "transactions_table",
        "extraction_log_table",
        "quarantine_table",
        "staging_transactions_table",
        "reconciliation_table",
        "results_table",
        "runs_table",
    ):
        gate.add_argument("--" + key.replace("_", "-"), help=f"[{ENV[key]}]")
    docs_flag = gate.add_mutually_exclusive_group()
    docs_flag.add_argument(
        "--data-docs",
        dest="data_docs",
        action="store_const",
        const="true",
        help=f"update Data Docs after the run [{ENV['data_docs']}; true]",
    )
    docs_flag.add_argument("--no-data-docs", dest="data_docs", action="store_const", const="false")
    gate.add_argument("--staging-date-column", help=f"[{ENV['staging_date_column']}]")
    gate.add_argument(
        "--band-low-slack",
        help=f"fail a day below this share of its expected count [{ENV['band_low_slack']}; "
        f"{DEFAULT_LOW_SLACK}]",
    )
    gate.add_argument(
        "--band-high-slack",
        help=f"fail a day above this multiple of its expected count [{ENV['band_high_slack']}; "
        f"{DEFAULT_HIGH_SLACK}]",
    )
    gate.add_argument("--mix-tolerance", help=f"[{ENV['mix_tolerance']}; 0.05]")
    gate.add_argument(
        "--max-quarantine-share",
        help="largest share of a day's lines its latest extraction may quarantine "
        f"[{ENV['max_quarantine_share']}; 0.01]",
    )
    return parser


def config_from_args(args: argparse.Namespace) -> GateConfig:
    def pick(name: str, default: str | None = None) -> str | None:
        value = getattr(args, name, None)
        return value if value not in (None, "") else _env(name, default)

    warehouse = pick("warehouse", "duckdb")
    if warehouse not in WAREHOUSES:
        raise ConfigError(f"warehouse: {warehouse!r} is not one of {', '.join(WAREHOUSES)}")
    tables = Tables.for_warehouse(
        warehouse,
        transactions=pick("transactions_table"),
        extraction_log=pick("extraction_log_table"),
        quarantine=pick("quarantine_table"),
        staging_transactions=pick("staging_transactions_table"),
        reconciliation=pick("reconciliation_table"),
        results=pick("results_table"),
        runs=pick("runs_table"),
    )
    optional = {
        "band_low_slack": _number("band_low_slack", pick("band_low_slack"), float),
        "band_high_slack": _number("band_high_slack", pick("band_high_slack"), float),
        "mix_tolerance": _number("mix_tolerance", pick("mix_tolerance"), float),
        "max_quarantine_share": _number(
            "max_quarantine_share", pick("max_quarantine_share"), float
        ),
        "staging_date_column": pick("staging_date_column"),
    }
    return GateConfig(
        warehouse=warehouse,
        duckdb_path=Path(pick("duckdb_path", "output/bnpl.duckdb")),
        bigquery_project=pick("bigquery_project"),
        bigquery_location=pick("bigquery_location", "US"),
        tables=tables,
        days=parse_days(pick("days", "new")),
        expected_volume=_number("expected_volume", pick("expected_volume"), int),
        holiday_country=pick("holiday_country", "US"),
        fail_on_drift=_bool("fail_on_drift", pick("fail_on_drift", "false")),
        report_dir=Path(pick("report_dir", "output/quality")),
        data_docs=_bool("data_docs", pick("data_docs", "true")),
        **{k: v for k, v in optional.items() if v is not None},
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "docs":
            report_dir = Path(args.report_dir or _env("report_dir", "output/quality"))
            config = GateConfig(report_dir=report_dir)
            if not config.gx_root.is_dir():
                raise ConfigError(
                    f"report_dir: no Great Expectations context in {config.gx_root} "
                    "(run `bnpl-quality gate` first)"
                )
            from bnpl_quality.gx_runtime import build_docs, import_gx

            print(f"Data Docs: {build_docs(import_gx(), config)}")
            return 0
        config = config_from_args(args)
        from bnpl_quality.gate import run_gate
        from bnpl_quality.report import summary_text

        outcome = run_gate(config)
        print(summary_text(config, outcome))
        return outcome.exit_code
    except ConfigError as exc:
        print(f"bnpl-quality: error: {exc}", file=sys.stderr)
        return 2
    except sa.exc.SQLAlchemyError as exc:
        from bnpl_quality.results import first_line

        print(f"bnpl-quality: error: warehouse query failed: {first_line(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
