"""Import the DAG folder the way Airflow does and print what it holds, as JSON.

Run with the Airflow venv's Python (`meltano invoke airflow:check-dags`). Exits 1 when any
DAG file fails to import, printing the errors, so it can gate a deployment as well as feed
the tests (tests/test_airflow_dags.py).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any


def describe(dag: Any) -> dict[str, Any]:
    """The parts of a DAG the project promises: id, schedule, task order, pool and retry
    policy."""
    tasks = []
    for task_id in [task.task_id for task in dag.topological_sort()]:
        task = dag.get_task(task_id)
        tasks.append(
            {
                "task_id": task.task_id,
                "upstream": sorted(task.upstream_task_ids),
                "bash_command": getattr(task, "bash_command", None),
                "meltano_args": list(getattr(task, "meltano_args", ())),
                "cwd": getattr(task, "cwd", None),
                "env": getattr(task, "env", None),
                "pool": task.pool,
                "pool_slots": task.pool_slots,
                "retries": task.retries,
                "retry_delay_seconds": task.retry_delay.total_seconds(),
                "retry_exponential_backoff": float(task.retry_exponential_backoff),
                "max_retry_delay_seconds": (
                    task.max_retry_delay.total_seconds() if task.max_retry_delay else None
                ),
            }
        )
    return {
        "dag_id": dag.dag_id,
        "schedule": dag.schedule,
        "timetable": type(dag.timetable).__name__,
        "catchup": dag.catchup,
        "max_active_runs": dag.max_active_runs,
        "tags": sorted(dag.tags),
        "params": sorted(dag.params.keys()),
        "tasks": tasks,
    }


def main() -> int:
    folder = sys.argv[1] if len(sys.argv) > 1 else os.environ["AIRFLOW__CORE__DAGS_FOLDER"]
    # Airflow logs to stdout; send everything but the JSON report to stderr.
    sys.stdout.flush()
    report_fd = os.dup(1)
    os.dup2(2, 1)
    try:
        from airflow.dag_processing.dagbag import DagBag

        bag = DagBag(dag_folder=folder)
        report = {
            "import_errors": {str(path): str(error) for path, error in bag.import_errors.items()},
            "dags": [describe(bag.dags[dag_id]) for dag_id in sorted(bag.dags)],
        }
        sys.stdout.flush()
    finally:
        os.dup2(report_fd, 1)
    with os.fdopen(report_fd, "w") as out:
        out.write(json.dumps(report, indent=2) + "\n")
    return 1 if report["import_errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
