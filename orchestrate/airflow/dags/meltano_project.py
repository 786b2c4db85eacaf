"""The Meltano project as Airflow needs to see it: schedules, jobs and their run steps.

Everything comes from the project itself through the Meltano CLI (`meltano schedule list`,
`meltano job list` and `meltano plugin list`, all with `--format=json`), so the DAGs follow
meltano.yml and its include_paths exactly as Meltano resolves them. The CLI needs a few
seconds and Airflow parses DAG files every few minutes, so the answer is cached in a file
keyed by a hash of the project files it depends on: editing meltano.yml or a plugin file
rebuilds it on the next parse.

This module has no Airflow import, so the root test suite can check it without Airflow.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

CACHE_VERSION = 1
# Meltano treats these intervals as "never on a timer" (meltano.core.schedule).
MANUAL_INTERVALS = frozenset({"@manual", "@none"})
ONCE_INTERVAL = "@once"
# Airflow accepts letters, digits, '-', '_' and '.' in ids; ':' of plugin:command is not.
_UNSAFE_ID_CHARS = re.compile(r"[^A-Za-z0-9_.-]")


class MeltanoProjectError(RuntimeError):
    """The project could not be read or a job cannot be turned into run steps."""


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


def find_project_root(start: Path | None = None) -> Path:
    """The Meltano project root: $MELTANO_PROJECT_ROOT, else the nearest meltano.yml above."""
    if env_root := os.environ.get("MELTANO_PROJECT_ROOT"):
        root = Path(env_root).resolve()
        if not (root / "meltano.yml").is_file():
            raise MeltanoProjectError(
                f"MELTANO_PROJECT_ROOT={env_root}: expected a directory holding meltano.yml"
            )
        return root
    here = (start or Path(__file__)).resolve()
    for candidate in [here, *here.parents]:
        if (candidate / "meltano.yml").is_file():
            return candidate
    raise MeltanoProjectError(f"no meltano.yml found in {here} or any parent directory")


def find_meltano(project_root: Path) -> str:
    """The meltano executable: $MELTANO_BIN, else `meltano` on PATH, else the project venv's."""
    if explicit := os.environ.get("MELTANO_BIN"):
        if not (os.path.isfile(explicit) and os.access(explicit, os.X_OK)):
            raise MeltanoProjectError(f"MELTANO_BIN={explicit}: expected an executable file")
        return explicit
    if on_path := shutil.which("meltano"):
        return on_path
    project_venv = project_root / ".venv" / "bin" / "meltano"
    if project_venv.is_file():
        return str(project_venv)
    raise MeltanoProjectError(
        "meltano executable not found: set MELTANO_BIN or put meltano on PATH"
    )


def project_files(project_root: Path) -> list[Path]:
    """meltano.yml and every file its include_paths match, in a stable order."""
    import yaml  # Airflow and Meltano both ship PyYAML; imported here to keep import cheap.

    main = project_root / "meltano.yml"
    try:
        document = yaml.safe_load(main.read_text()) or {}
    except yaml.YAMLError as exc:
        first_line = str(exc).splitlines()[0]
        raise MeltanoProjectError(f"meltano.yml: invalid YAML: {first_line}") from exc
    include_paths = document.get("include_paths") or []
    if not isinstance(include_paths, list):
        raise MeltanoProjectError("meltano.yml: include_paths: expected a list of glob patterns")
    files = [main]
    for pattern in include_paths:
        matches = glob.glob(str(project_root / pattern), recursive=True)
        files.extend(sorted(Path(match) for match in matches if Path(match).is_file()))
    return files


def fingerprint(project_root: Path) -> str:
    """A hash of the project files that define schedules, jobs and plugins."""
    digest = hashlib.sha256(f"v{CACHE_VERSION}".encode())
    for path in project_files(project_root):
        digest.update(str(path.relative_to(project_root)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def _meltano_json(meltano: str, project_root: Path, *args: str) -> object:
    """The parsed output of `meltano <args> --format=json` run in the project."""
    name = f"meltano {' '.join(args)}"
    env = {**os.environ, "MELTANO_PROJECT_ROOT": str(project_root)}
    try:
        # One at a time: on a fresh clone the first call creates Meltano's system database,
        # and concurrent first calls race to migrate it.
        result = subprocess.run(
            [meltano, "--log-level=warning", *args, "--format=json"],
            cwd=project_root,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise MeltanoProjectError(f"`{name}` could not run: {exc}") from exc
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        last = lines[-1] if lines else f"exit code {result.returncode}"
        raise MeltanoProjectError(f"`{name}` failed: {last}")
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError as exc:
        raise MeltanoProjectError(f"`{name} --format=json` printed no JSON: {exc}") from exc


def describe_project(meltano: str, project_root: Path) -> dict:
    """Schedules, jobs and plugin types exactly as the Meltano CLI reports them."""
    return {
        "schedules": _meltano_json(meltano, project_root, "schedule", "list"),
        "jobs": _meltano_json(meltano, project_root, "job", "list"),
        "plugins": _meltano_json(meltano, project_root, "plugin", "list"),
    }


def load_description(
    project_root: Path, meltano: str | None = None, cache_dir: Path | None = None
) -> dict:
    """The project description, from the cache when the project files have not changed."""
    cache_dir = cache_dir or project_root / ".meltano" / "run" / "airflow"
    key = fingerprint(project_root)
    cache_file = cache_dir / "project.json"
    try:
        cached = json.loads(cache_file.read_text())
        if cached.get("fingerprint") == key:
            return cached["description"]
    except (OSError, ValueError, KeyError, AttributeError):
        pass  # No cache yet, or an unreadable one: ask Meltano again.
    description = describe_project(meltano or find_meltano(project_root), project_root)
    cache_dir.mkdir(parents=True, exist_ok=True)
    # Written aside then renamed, so a parse running at the same time never reads half a file.
    partial = cache_file.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(json.dumps({"fingerprint": key, "description": description}, indent=2))
    os.replace(partial, cache_file)
    return description


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
