"""Pre-flight check of the loader's warehouse configuration, before anything is extracted.

The Meltano utility `load-check` (plugins/loaders.meltano.yml) runs it as the first step of
every job: `load-check:preflight` on BigQuery, `load-check:preflight-duckdb` on DuckDB. On
any problem it prints one line naming the setting and what was expected, and exits 1
before anything is extracted, loaded or saved as state.

- duckdb_file: the DuckDB file can hold the warehouse
- bigquery: BigQuery's naming rules, and the dataset reachable in the job's location
- cli: the command line (`bnpl-load-check`) and the settings it reads from the environment

The per-day count of what was loaded against what the tap emitted is not here: dbt's
int_bnpl_daily_reconciliation computes it once and the quality gate fails the job on it
before the marts are published.
"""


class PreflightError(RuntimeError):
    """The loader's warehouse configuration cannot work: one line naming the setting."""


def first_line(exc: BaseException) -> str:
    """An exception's message on one line, at most about 200 characters."""
    text = " ".join(str(exc).split())
    return text[:200] + ("..." if len(text) > 200 else "")
