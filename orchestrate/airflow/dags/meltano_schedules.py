"""Airflow DAGs for the Meltano project: one per Meltano schedule, one per unscheduled job.

The schedules, jobs and plugin types are read from the project itself (meltano_description.py),
so a schedule or job added to meltano.yml appears here on the next parse. Each job step is
its own task, chained in the job's order, so a failing dbt build or quality gate shows as
that task failing while the extract-load before it stays green:

    daily:  load-check__preflight-duckdb >> tap-simtom-bnpl-to-target-duckdb-append
              >> dbt-duckdb__build-staging >> quality__gate >> dbt-duckdb__build-marts

An extract-load block (`tap mappers... target`) stays one `meltano run` task: the tap's
output only exists while it streams into the loader, and Meltano saves the block's state
under `<environment>:<tap>-to-<target>` whether it runs alone or inside the job, so a DAG
run and `meltano run daily` continue from the same bookmark.

One run of the project's jobs at a time, whoever starts it. Every task is in one Airflow
pool of one slot (POOL, orchestrate/airflow/pools.json), so Airflow never starts two steps
of any DAGs at once, even on different workers; and every step runs through
orchestrate/job_lock.py, the project lock `make run` takes too, so a step waits (up to
LOCK_WAIT_SECONDS, then fails and retries) while a run outside Airflow holds it.

Jobs that no schedule runs (the backfills) become DAGs without a schedule, triggered by
hand. Every DAG accepts three trigger parameters: `env` (extra environment variables for
every step, e.g. TAP_SIMTOM_BNPL_START_DATE for a backfill range), `state_id_suffix` (keeps
that run's state apart from the schedule's) and `full_refresh` (ignore saved state).

Every DAG run is recorded in the warehouse's pipeline_runs by the tasks' callbacks
(run_log_callbacks.py). They call the project's run log CLI (orchestrate/run_log.py over
orchestrate/pipeline_runs/) with a Python that can write the warehouse: the project venv's
for DuckDB, the load-check utility's for BigQuery; Airflow's venv has neither DuckDB nor the
Google client. Each task's start records the run as running and its step, the last task's
success ends it `success`, and a task that fails for good (no retry left) ends it `failed`
with the step, exit code and the tail of the step's output, which also sends the failure
notice to BNPL_FAILURE_WEBHOOK_URL. A project without orchestrate/run_log.py records
nothing.
"""

from __future__ import annotations

import datetime as dt
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, Param

sys.path.insert(0, str(Path(__file__).resolve().parent))

from meltano_description import (
    MeltanoProjectError,
    find_meltano,
    find_project_root,
    load_description,
)
from meltano_pipelines import Pipeline, RunStep, pipelines
from run_log_callbacks import RunRecorder, run_log_module, step_output_dir

# Meltano state already resumes from the last bookmark, so one run after an outage catches
# up every missing day; Airflow catch-up runs would only repeat dbt and the gate.
CATCHUP = False
# Only the first run depends on it (catchup is off); any past date will do.
START_DATE = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
# Retries double the wait each time (1, 2, 4 min ...), capped: long enough for a busy API
# or a locked DuckDB file to recover. MELTANO_DAG_RETRIES overrides the count (tests use 0).
RETRIES = int(os.environ.get("MELTANO_DAG_RETRIES", "3"))
RETRY_DELAY = dt.timedelta(minutes=1)
RETRY_BACKOFF_MULTIPLIER = 2.0
MAX_RETRY_DELAY = dt.timedelta(minutes=30)

# Extract-load options from the trigger parameters; the suffix pattern keeps them shell-safe.
EXTRACT_LOAD_OPTIONS = (
    "{% if params.full_refresh %}--full-refresh {% endif %}"
    "{% if params.state_id_suffix %}--state-id-suffix {{ params.state_id_suffix }} {% endif %}"
)
ENV_NAME_PATTERN = "^[A-Za-z_][A-Za-z0-9_]*$"

# Every DAG here writes the same Meltano state database and `.meltano/run/`, and the DuckDB
# DAGs one DuckDB file: one slot for all of them, like the project lock. The pool must
# exist (`meltano invoke airflow:pools` imports orchestrate/airflow/pools.json).
POOL = os.environ.get("MELTANO_DAG_POOL", "meltano_project")
# How long a step waits for the project lock held by a run outside Airflow (`make run`)
# before it fails with exit code 75 and Airflow retries it.
LOCK_WAIT_SECONDS = float(os.environ.get("MELTANO_DAG_LOCK_WAIT", "1800"))
JOB_LOCK = Path("orchestrate") / "job_lock.py"


def lock_command(project_root: Path) -> str:
    """`python orchestrate/job_lock.py --wait N --`: what every step's command starts with."""
    script = project_root / JOB_LOCK
    if not script.is_file():
        raise MeltanoProjectError(
            f"{script}: expected the project's job lock script (every DAG step runs under it)"
        )
    python = shlex.quote(sys.executable)
    return f"{python} {shlex.quote(str(script))} --wait {LOCK_WAIT_SECONDS:g} --"


class MeltanoRunOperator(BashOperator):
    """`meltano run <step>` in the project directory under the project's job lock, in the
    project's pool, failing on any non-zero exit."""

    def __init__(
        self,
        *,
        step: RunStep,
        meltano: str,
        project_root: Path,
        env: dict[str, str],
        run_log: Any | None = None,
        **kwargs: Any,
    ) -> None:
        options = EXTRACT_LOAD_OPTIONS if step.extract_load else ""
        run = f"{shlex.quote(meltano)} run {options}{step.command}"
        lock = lock_command(project_root)
        if run_log is not None:
            # The step's output also goes to a file of the task instance: the failure
            # callback reads the error tail there.
            folder = shlex.quote(str(step_output_dir(run_log)))
            lock = f"{lock[: -len(' --')]} --output {folder}/{{{{ti.id}}}}.log --"
        super().__init__(
            bash_command=f"{lock} {run}",
            pool=POOL,
            pool_slots=1,
            cwd=str(project_root),
            env=env,
            append_env=True,
            # meltano exits 1 on failure; no exit code should turn a task "skipped".
            skip_on_exit_code=None,
            do_xcom_push=False,
            **kwargs,
        )
        self.meltano_args = step.args

    def execute(self, context: Any) -> Any:
        extra_env = context["params"].get("env") or {}
        self.env = {**(self.env or {}), **{str(k): str(v) for k, v in extra_env.items()}}
        self.exit_code: int | None = None
        try:
            return super().execute(context)
        finally:
            # For the failure callback: the step's own exit code, not Airflow's message.
            if (process := self.subprocess_hook.sub_process) is not None:
                self.exit_code = process.returncode


def trigger_params() -> dict[str, Param]:
    """Trigger parameters, validated by Airflow before a run is created."""
    return {
        "env": Param(
            {},
            type="object",
            propertyNames={"pattern": ENV_NAME_PATTERN},
            additionalProperties={"type": "string"},
            description="Extra environment variables for every step, e.g. "
            '{"TAP_SIMTOM_BNPL_START_DATE": "2024-01-01", '
            '"TAP_SIMTOM_BNPL_END_DATE": "2024-12-31"}.',
        ),
        "state_id_suffix": Param(
            "",
            type="string",
            pattern="^[A-Za-z0-9_-]*$",
            description="Meltano state id suffix for the extract-load step: state goes to "
            "<environment>:<tap>-to-<target>:<suffix> instead of the schedule's state.",
        ),
        "full_refresh": Param(
            False,
            type="boolean",
            description="Ignore the saved state and extract from the tap's start_date.",
        ),
    }


def _doc(pipeline: Pipeline) -> str:
    source = (
        f"Meltano schedule `{pipeline.schedule_name}` (`{pipeline.schedule}`)"
        if pipeline.schedule_name
        else "Meltano job without a schedule: trigger it by hand"
    )
    steps = "\n".join(f"1. `meltano run {step.command}`" for step in pipeline.steps)
    tasks = "; ".join(f"`{task}`" for task in pipeline.tasks)
    return f"{source}, job `{pipeline.job}`: {tasks}\n\nSteps:\n\n{steps}\n"


def build_dag(pipeline: Pipeline, meltano: str, project_root: Path) -> DAG:
    """The DAG of one pipeline: its steps in order, each a `meltano run` task."""
    with DAG(
        dag_id=pipeline.dag_id,
        schedule=pipeline.schedule,
        start_date=START_DATE,
        catchup=CATCHUP,
        # Two runs at once would race for the same state id and the same warehouse tables.
        max_active_runs=1,
        params=trigger_params(),
        doc_md=_doc(pipeline),
        tags=["meltano", "scheduled" if pipeline.schedule else "manual"],
        default_args={
            "owner": "meltano",
            "retries": RETRIES,
            "retry_delay": RETRY_DELAY,
            "retry_exponential_backoff": RETRY_BACKOFF_MULTIPLIER,
            "max_retry_delay": MAX_RETRY_DELAY,
        },
    ) as dag:
        run_log = run_log_module(project_root)
        callbacks: dict[str, Any] = {}
        if run_log is not None:
            recorder = RunRecorder(
                run_log,
                project_root,
                pipeline.job,
                pipeline.steps[-1].task_id,
                timeout=LOCK_WAIT_SECONDS + 300,
            )
            callbacks = {
                "on_execute_callback": recorder.on_execute,
                "on_success_callback": recorder.on_success,
                "on_failure_callback": recorder.on_failure,
            }
        previous = None
        for step in pipeline.steps:
            task = MeltanoRunOperator(
                task_id=step.task_id,
                step=step,
                meltano=meltano,
                project_root=project_root,
                env=dict(pipeline.env),
                run_log=run_log,
                doc_md=f"`meltano run {step.command}`",
                **callbacks,
            )
            if previous is not None:
                previous >> task
            previous = task
    return dag


def _build_all() -> None:
    project_root = find_project_root(Path(__file__))
    meltano = find_meltano(project_root)
    for pipeline in pipelines(load_description(project_root, meltano)):
        globals()[f"dag_{pipeline.dag_id}"] = build_dag(pipeline, meltano, project_root)


_build_all()
