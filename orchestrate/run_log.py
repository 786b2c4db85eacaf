"""Record a job run in pipeline_runs: the run log's command line (orchestrate/pipeline_runs/).

The Airflow callbacks (orchestrate/airflow/dags/meltano_schedules.py) run this with the
Python that can write the environment's warehouse (pipeline_runs.python_for):

    python orchestrate/run_log.py start  --run-id ID --job daily [--orchestrator airflow]
    python orchestrate/run_log.py step   --run-id ID STEP
    python orchestrate/run_log.py finish --run-id ID --status failed --failing-step STEP \
        --exit-code 1 [--error-tail-file FILE]
    python orchestrate/run_log.py sweep   # mark `running` rows whose process is gone `killed`

A failed or killed finish sends the failure notice to BNPL_FAILURE_WEBHOOK_URL. Whatever
goes wrong costs one line on stderr and exit code 1.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

ORCHESTRATE = Path(__file__).resolve().parent
sys.path.insert(0, str(ORCHESTRATE))

from pipeline_runs import STATUSES, TABLE, Run, open_run_log, read_tail, say  # noqa: E402
from pipeline_runs.settings import ROOT, warehouse_for  # noqa: E402


def _environment(given: str | None) -> str:
    """--environment, else MELTANO_ENVIRONMENT, else meltano.yml's default_environment."""
    if given:
        return given
    if from_env := os.environ.get("MELTANO_ENVIRONMENT"):
        return from_env
    # A top-level key read without YAML: the BigQuery venv has no YAML parser.
    with contextlib.suppress(OSError):
        text = (ROOT / "meltano.yml").read_text()
        if found := re.search(r"^default_environment:\s*['\"]?([\w-]+)", text, re.MULTILINE):
            return found.group(1)
    return "dev"


@contextlib.contextmanager
def _project_lock(environment: str, wait_seconds: float) -> Iterator[None]:
    """The project's job lock while writing DuckDB: a `make run` may hold the file."""
    if warehouse_for(environment) != "duckdb":
        yield
        return
    import job_lock

    lock_file = job_lock.default_lock_file()
    fd = job_lock.acquire(lock_file, wait_seconds)
    if fd is None:
        raise TimeoutError(f"the job lock {lock_file} was held for {wait_seconds:g} s")
    try:
        yield
    finally:
        os.close(fd)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="run_log.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--environment", help="Meltano environment (default: as meltano runs)")
    parser.add_argument("--lock-wait", type=float, default=1800.0, metavar="SECONDS")
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("start", help="record a run as running")
    start.add_argument("--run-id", required=True)
    start.add_argument("--job", required=True)
    start.add_argument("--orchestrator", default="make")
    start.add_argument("--no-pid", action="store_true", help="no process stands for the run")
    step = commands.add_parser("step", help="record the step a run is in")
    step.add_argument("--run-id", required=True)
    step.add_argument("step")
    finish = commands.add_parser("finish", help="end a run; a failed one sends the notice")
    finish.add_argument("--run-id", required=True)
    finish.add_argument("--status", required=True, choices=STATUSES[1:])
    finish.add_argument("--failing-step")
    finish.add_argument("--exit-code", type=int)
    finish.add_argument("--error-tail-file", type=Path)
    commands.add_parser("sweep", help="mark runs whose process is gone as killed")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        environment = _environment(args.environment)
        with _project_lock(environment, args.lock_wait):
            log = open_run_log(environment)
            if args.command == "start":
                run = Run(args.run_id, args.job, environment, orchestrator=args.orchestrator)
                if args.no_pid:
                    run.pid = None
                log.start(run)
            elif args.command == "step":
                log.set_step(args.run_id, args.step)
            elif args.command == "finish":
                run = log.get(args.run_id)
                if run is None:
                    say(f"run {args.run_id}: no such run in {TABLE}")
                    return 1
                if run.status != "running":
                    return 0
                run.status, run.exit_code = args.status, args.exit_code
                run.failing_step = args.failing_step if args.status != "success" else None
                if args.error_tail_file:
                    run.error_tail = read_tail(args.error_tail_file)
                log.finish(run)
            else:
                log.sweep()
    except Exception as exc:  # one line, whatever went wrong
        say(f"{args.command} not recorded: {type(exc).__name__}: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
