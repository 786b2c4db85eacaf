"""Run a project job step by step under the job lock, and record the run.

    python orchestrate/run_job.py [--environment dev] [--wait SECONDS] daily

`make run` and `make backfill` (scripts/run_local.sh) run their job through this. The job
is split into the steps the Airflow DAGs run (orchestrate/airflow/dags/meltano_pipelines.py,
from `meltano job list`): one `meltano run` per extract-load block and per command, so a
failure names its step (`quality:gate`) without reading log text. Meltano keeps an
extract-load block's state under the same id whether the block runs alone or in the job.

Holding the project lock (orchestrate/job_lock.py) for the whole run, it first marks
`killed` the runs of this host whose process is gone (orchestrate/pipeline_runs/), then
records this run in pipeline_runs, runs the steps in order until one fails, and records the
end: status, failing step, exit code, the tail of the step's output, the days and rows
loaded. A failed run sends the failure notice. The steps' output goes to
BNPL_RUN_LOG_DIR/<run id>.log as well as to stdout. Exits with the failing step's exit
code, 0 when all succeed.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
import uuid
from pathlib import Path

ORCHESTRATE = Path(__file__).resolve().parent
ROOT = ORCHESTRATE.parent
sys.path.insert(0, str(ORCHESTRATE))
sys.path.insert(0, str(ORCHESTRATE / "airflow" / "dags"))

import job_lock  # noqa: E402
import meltano_description  # noqa: E402
import meltano_pipelines  # noqa: E402
import migrate_state  # noqa: E402
import pipeline_runs  # noqa: E402


def _say(message: str) -> None:
    print(f"run_job: {message}", file=sys.stderr, flush=True)


def job_steps(job: str, meltano: str) -> list[meltano_pipelines.RunStep]:
    """The job's `meltano run` steps, as Meltano lists the job's tasks."""
    description = meltano_description.load_description(ROOT, meltano)
    jobs = {str(entry["job_name"]): entry["tasks"] for entry in description["jobs"]["jobs"]}
    types = meltano_pipelines.plugin_types(description["plugins"])
    return meltano_pipelines.split_steps(job, meltano_pipelines.job_tokens(job, jobs), types)


class Recorder:
    """The run log, where a warehouse that cannot be written costs a line, not the run."""

    def __init__(self, environment: str) -> None:
        self.log: pipeline_runs.RunLog | None = None
        try:
            self.log = pipeline_runs.open_run_log(environment)
        except Exception as exc:
            self._failed("open the run log", exc)

    def _failed(self, what: str, exc: Exception) -> None:
        _say(f"could not {what} (the run goes on): {type(exc).__name__}: {exc}")

    def call(self, what: str, method: str, *args: object) -> object:
        if self.log is None:
            return None
        try:
            return getattr(self.log, method)(*args)
        except Exception as exc:
            self._failed(what, exc)
            return None


def run(job: str, environment: str, wait: float) -> int:
    meltano = meltano_description.find_meltano(ROOT)
    try:
        steps = job_steps(job, meltano)
    except meltano_description.MeltanoProjectError as exc:
        _say(str(exc))
        return 2
    if any(migrate_state.LOADER in step.args for step in steps):
        try:
            unmigrated = migrate_state.unmigrated(meltano, environment)
        except migrate_state.MigrationError as exc:
            unmigrated = str(exc)
        if unmigrated:
            _say(f"not starting job {job}: {unmigrated}")
            return 2
    lock_file = job_lock.default_lock_file()
    fd = job_lock.acquire(lock_file, wait)
    if fd is None:
        _say(f"not starting job {job}: {job_lock.holder(lock_file)} holds {lock_file}")
        return job_lock.EX_TEMPFAIL
    signals_seen: list[int] = []

    def stop(signum: int, _frame: object) -> None:
        signals_seen.append(signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, stop)
    try:
        job_lock.record_holder(fd, [sys.argv[0], "--environment", environment, job])
        recorder = Recorder(environment)
        recorder.call("mark killed runs", "sweep")
        run_id = str(uuid.uuid4())
        output = pipeline_runs.log_dir() / f"{run_id}.log"
        record = pipeline_runs.Run(run_id, job, environment, log_file=str(output))
        recorder.call("record the start", "start", record)
        _say(f"run {run_id} of job {job} ({environment}); output in {output}")
        exit_code, failing = 0, None
        for step in steps:
            if signals_seen:
                exit_code, failing = 128 + signals_seen[0], step
                break
            recorder.call("record the step", "set_step", run_id, step.command)
            command = [meltano, f"--environment={environment}", "run", *step.args]
            _say(f"step `{shlex.join(command[2:])}`")
            exit_code = job_lock.run_locked(
                command, fd, job_lock.run_dir(), output=output, signals_seen=signals_seen
            )
            if exit_code != 0:
                failing = step
                break
        record.current_step = failing.command if failing else steps[-1].command
        record.status = "killed" if signals_seen else "failed" if failing else "success"
        record.failing_step = failing.command if failing else None
        record.exit_code = exit_code
        record.error_tail = pipeline_runs.read_tail(output) if failing else None
        recorder.call("record the end", "finish", record)
        where = f" at step `{record.failing_step}`" if failing else ""
        _say(f"run {run_id}: {record.status}{where} (exit code {exit_code})")
        return exit_code
    finally:
        os.close(fd)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="run_job.py", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--environment",
        default=os.environ.get("MELTANO_ENVIRONMENT") or "dev",
        help="Meltano environment (default: $MELTANO_ENVIRONMENT, else dev)",
    )
    parser.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait this long for a running job to finish (default: refuse at once)",
    )
    parser.add_argument("job", help="the Meltano job to run")
    args = parser.parse_args(argv)
    if args.wait < 0:
        parser.error(f"--wait: expected seconds >= 0, got {args.wait:g}")
    return run(args.job, args.environment, args.wait)


if __name__ == "__main__":
    sys.exit(main())
