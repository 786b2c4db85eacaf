"""The pipelines the DAGs run: schedules and jobs of the project, split into run steps.

Works on the project description of meltano_description.py (what `meltano schedule list`,
`meltano job list` and `meltano plugin list` print): one pipeline per Meltano schedule and
per unscheduled job, each a chain of `meltano run` steps.

This module has no Airflow import, so the root test suite can check it without Airflow.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from meltano_description import MeltanoProjectError

# Meltano treats these intervals as "never on a timer" (meltano.core.schedule).
MANUAL_INTERVALS = frozenset({"@manual", "@none"})
ONCE_INTERVAL = "@once"
# Airflow accepts letters, digits, '-', '_' and '.' in ids; ':' of plugin:command is not.
_UNSAFE_ID_CHARS = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass(frozen=True)
class RunStep:
    """One `meltano run` invocation: a whole extract-load block, or one plugin command."""

    task_id: str
    args: tuple[str, ...]
    extract_load: bool

    @property
    def command(self) -> str:
        """The step as a user would type it after `meltano run`."""
        return shlex.join(self.args)


@dataclass(frozen=True)
class Pipeline:
    """One DAG: a Meltano schedule (or an unscheduled job) and the steps of its job."""

    dag_id: str
    job: str
    tasks: tuple[str, ...]
    steps: tuple[RunStep, ...]
    # A cron expression, "@once", or None for a DAG that only runs when triggered.
    schedule: str | None
    env: Mapping[str, str] = field(default_factory=dict)
    # The Meltano schedule behind the DAG, None for an unscheduled job.
    schedule_name: str | None = None


def plugin_types(plugins: Iterable[Mapping[str, object]]) -> dict[str, str]:
    """Plugin name -> Meltano plugin type ("extractor", "loader", "mapper", "utility", ...)."""
    return {str(plugin["name"]): str(plugin["type"]) for plugin in plugins}


def job_tokens(job: str, jobs: Mapping[str, Sequence[object]]) -> list[str]:
    """The job's tasks as the flat list of blocks `meltano run <job>` executes, in order.

    Like Meltano (TaskSets.flat_args), nested task lists are flattened and each string is
    split on whitespace; a job named inside another job's tasks is not expanded.
    """
    if job not in jobs:
        raise MeltanoProjectError(f"job {job}: not defined in the project")

    def flatten(tasks: object) -> list[str]:
        if isinstance(tasks, str):
            return tasks.split()
        if isinstance(tasks, list | tuple):
            return [token for task in tasks for token in flatten(task)]
        raise MeltanoProjectError(f"job {job}: task {tasks!r} is neither a string nor a list")

    return flatten(list(jobs[job]))


def _safe_id(text: str) -> str:
    return _UNSAFE_ID_CHARS.sub("_", text)


def split_steps(job: str, tokens: Sequence[str], types: Mapping[str, str]) -> list[RunStep]:
    """Group a job's blocks into steps: one per extract-load block, one per plugin command.

    An extractor opens an extract-load block that runs through its mappers to its loader;
    the block is one step because the tap's output only exists while it streams into the
    loader (and the state Meltano saves for the block is `<env>:<tap>-to-<target>`,
    whether the block runs alone or inside the job). Every other block is a command such
    as `dbt-duckdb:build` or `quality:gate` and becomes its own step.
    """
    steps: list[RunStep] = []
    used_ids: dict[str, int] = {}

    def add(base_id: str, args: Sequence[str], extract_load: bool) -> None:
        used_ids[base_id] = used_ids.get(base_id, 0) + 1
        count = used_ids[base_id]
        task_id = base_id if count == 1 else f"{base_id}_{count}"
        steps.append(RunStep(task_id=task_id, args=tuple(args), extract_load=extract_load))

    position = 0
    while position < len(tokens):
        token = tokens[position]
        plugin, _, command = token.partition(":")
        kind = types.get(plugin)
        if kind is None:
            raise MeltanoProjectError(
                f"job {job}: block {token!r} names no plugin of the project "
                f"(known: {', '.join(sorted(types)) or 'none'})"
            )
        if kind == "extractor" and not command:
            end = position + 1
            while end < len(tokens) and types.get(tokens[end]) != "loader":
                inner = tokens[end]
                if ":" in inner or types.get(inner) == "extractor":
                    raise MeltanoProjectError(
                        f"job {job}: extractor {token} reaches {inner!r} before a loader"
                    )
                end += 1
            if end == len(tokens):
                raise MeltanoProjectError(f"job {job}: extractor {token} has no loader after it")
            block = tokens[position : end + 1]
            add(_safe_id(f"{block[0]}-to-{block[-1]}"), block, extract_load=True)
            position = end + 1
        elif kind == "loader" and not command:
            raise MeltanoProjectError(f"job {job}: loader {token} has no extractor before it")
        else:
            add(_safe_id(f"{plugin}__{command}" if command else plugin), [token], False)
            position += 1
    if not steps:
        raise MeltanoProjectError(f"job {job}: has no tasks")
    return steps


def _airflow_schedule(name: str, interval: str | None, cron: str | None) -> str | None:
    if interval and interval.strip().lower() == ONCE_INTERVAL:
        return ONCE_INTERVAL
    if interval and interval.strip().lower() in MANUAL_INTERVALS:
        return None
    if cron:
        return cron
    raise MeltanoProjectError(
        f"schedule {name}: interval {interval!r} is neither a cron expression nor one of "
        "@once, @manual, @none"
    )


def pipelines(description: Mapping[str, object]) -> list[Pipeline]:
    """One pipeline per Meltano schedule, then one manual pipeline per unscheduled job."""
    types = plugin_types(description["plugins"])  # type: ignore[arg-type]
    jobs = {
        str(entry["job_name"]): entry["tasks"]
        for entry in description["jobs"]["jobs"]  # type: ignore[index]
    }
    schedule_lists = description["schedules"]["schedules"]  # type: ignore[index]
    result: list[Pipeline] = []
    scheduled_jobs: set[str] = set()
    for entry in schedule_lists.get("job", []):
        name, job = str(entry["name"]), str(entry["job"]["name"])
        scheduled_jobs.add(job)
        tasks = tuple(
            task if isinstance(task, str) else " ".join(task) for task in jobs.get(job, [])
        )
        result.append(
            Pipeline(
                dag_id=_safe_id(name),
                job=job,
                tasks=tasks,
                steps=tuple(split_steps(job, job_tokens(job, jobs), types)),
                schedule=_airflow_schedule(name, entry.get("interval"), entry["cron_interval"]),
                env={str(k): str(v) for k, v in (entry.get("env") or {}).items()},
                schedule_name=name,
            )
        )
    for entry in schedule_lists.get("elt", []):
        # An elt schedule keeps its state under the schedule's name, not `<tap>-to-<target>`;
        # splitting it into `meltano run` steps would silently start from empty state.
        raise MeltanoProjectError(
            f"schedule {entry['name']}: legacy elt schedules are not supported; "
            "point the schedule at a job instead (meltano schedule add NAME --job JOB)"
        )
    for job, tasks in jobs.items():
        if job in scheduled_jobs:
            continue
        result.append(
            Pipeline(
                dag_id=_safe_id(job),
                job=job,
                tasks=tuple(task if isinstance(task, str) else " ".join(task) for task in tasks),
                steps=tuple(split_steps(job, job_tokens(job, jobs), types)),
                schedule=None,
            )
        )
    seen: dict[str, Pipeline] = {}
    for pipeline in result:
        if pipeline.dag_id in seen:
            raise MeltanoProjectError(
                f"DAG id {pipeline.dag_id}: used by both schedule/job "
                f"{seen[pipeline.dag_id].schedule_name or seen[pipeline.dag_id].job} and "
                f"{pipeline.schedule_name or pipeline.job}; rename one of them"
            )
        seen[pipeline.dag_id] = pipeline
    return result
