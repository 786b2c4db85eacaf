"""The DAGs' run-log callbacks: each DAG run recorded in the warehouse's pipeline_runs.

The recording itself is the project's run log CLI (orchestrate/run_log.py over
orchestrate/pipeline_runs/), run with a Python that can write the warehouse; this module
only loads the run log's stdlib parts to find that Python and the step output folder.
meltano_schedules.py attaches the callbacks to every task. It defines no DAG.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

RUN_LOG = Path("orchestrate") / "run_log.py"
RUN_LOG_PACKAGE = Path("orchestrate") / "pipeline_runs"


def run_log_module(project_root: Path) -> Any | None:
    """The project's run log package, orchestrate/pipeline_runs (None: the project has no
    orchestrate/run_log.py and records no runs).

    Only its stdlib parts run here; the warehouse is written by its CLI in another venv."""
    package = project_root / RUN_LOG_PACKAGE
    if not (project_root / RUN_LOG).is_file() or not package.is_dir():
        return None
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "project_pipeline_runs",
        package / "__init__.py",
        submodule_search_locations=[str(package)],
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def step_output_dir(run_log: Any) -> Path:
    """The folder of the tasks' `meltano run` output, one file per task instance."""
    return run_log.log_dir() / "airflow"


def step_output_file(run_log: Any, ti: Any) -> Path:
    """Where a task's `meltano run` output goes (the failure notice's error tail)."""
    return step_output_dir(run_log) / f"{ti.id}.log"


class RunRecorder:
    """The DAG's callbacks: they record the DAG run through the run log's CLI and never
    fail the task (a warehouse that cannot be written costs a line in the task log)."""

    def __init__(
        self, run_log: Any, project_root: Path, job: str, last_task_id: str, timeout: float
    ) -> None:
        self.run_log = run_log
        self.project_root = project_root
        self.job = job
        self.last_task_id = last_task_id
        # Seconds a CLI call may take: writing DuckDB, it waits for the project lock first.
        self.timeout = timeout

    def _cli(self, context: Any, *args: str) -> None:
        task = context["task"]
        extra = context["params"].get("env") or {}
        env = {**os.environ, **(task.env or {}), **{str(k): str(v) for k, v in extra.items()}}
        environment = env.get("MELTANO_ENVIRONMENT") or None
        try:
            python = self.run_log.python_for(self.run_log.warehouse_for(environment or "dev"))
            command = [python, str(self.project_root / RUN_LOG)]
            command += [f"--environment={environment}"] if environment else []
            done = subprocess.run(
                [*command, *args],
                cwd=self.project_root,
                env=env,
                capture_output=True,
                text=True,
                timeout=self.timeout,
                check=False,
            )
            output = (done.stdout + done.stderr).strip()
        except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
            output = f"run_log: {args[0]} not recorded: {exc}"
        if output:
            print(output, flush=True)

    @staticmethod
    def run_id(context: Any) -> str:
        return f"airflow:{context['dag'].dag_id}:{context['run_id']}"

    def on_execute(self, context: Any) -> None:
        run_id = self.run_id(context)
        args = ("--run-id", run_id, "--job", self.job, "--orchestrator", "airflow", "--no-pid")
        self._cli(context, "start", *args)
        self._cli(context, "step", "--run-id", run_id, shlex.join(context["task"].meltano_args))

    def on_success(self, context: Any) -> None:
        if context["task"].task_id == self.last_task_id:
            self._cli(context, "finish", "--run-id", self.run_id(context), "--status", "success")

    def on_failure(self, context: Any) -> None:
        task = context["task"]
        args = ["--run-id", self.run_id(context), "--status", "failed"]
        args += ["--failing-step", shlex.join(task.meltano_args)]
        if (code := getattr(task, "exit_code", None)) is not None:
            args += ["--exit-code", str(code)]
        args += ["--error-tail-file", str(step_output_file(self.run_log, context["ti"]))]
        self._cli(context, "finish", *args)
