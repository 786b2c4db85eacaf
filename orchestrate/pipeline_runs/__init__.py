"""The run log: one row per job run in the warehouse, and a notice when a run fails.

Every run of a project job gets a row in `pipeline_runs` (DuckDB: schema `ops` of
BNPL_DUCKDB_PATH; BigQuery: dataset `bnpl_ops` of BNPL_GCP_PROJECT) when it starts, and the
row is finished as `success`, `failed` or `killed`. A failed or killed run sends one JSON
POST to BNPL_FAILURE_WEBHOOK_URL (when set). The notice goes out only when the run log
moves the row from `running` to `failed`/`killed`, so each run is announced exactly once
whoever notices it first; a webhook that is down costs one line on stderr, nothing else.

A run killed with `kill -9` cannot finish its own row: the next run (or `sweep`) finds a
`running` row of this host whose process is gone and marks it `killed`. Airflow rows carry
no process id: Airflow itself notices a dead task and calls the failure callback.

- record: a row (Run), the table's columns, the facts about a run's process
- store: the run log over any warehouse (RunLog): the shared SQL, a run's end, the sweep
- duckdb_store, bigquery_store: how each warehouse runs a statement
- notice: the failure notice
- settings: which warehouse an environment writes, and where

Used in-process by orchestrate/run_job.py and, through the CLI orchestrate/run_log.py, by the
Airflow callbacks. Its modules import each other relatively, so the DAGs can load the
package from a project's path under a name of their own.
"""

from .notice import notice, notify_failure
from .record import COLUMNS, STATUSES, TABLE, Loaded, Run, process_alive, read_tail, say
from .settings import log_dir, open_run_log, python_for, warehouse_for
from .store import RunLog

__all__ = [
    "COLUMNS",
    "STATUSES",
    "TABLE",
    "Loaded",
    "Run",
    "RunLog",
    "log_dir",
    "notice",
    "notify_failure",
    "open_run_log",
    "process_alive",
    "python_for",
    "read_tail",
    "say",
    "warehouse_for",
]
