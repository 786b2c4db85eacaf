"""The Meltano project as the DAGs see it: where it is, and its cached description.

Everything comes from the project itself through the Meltano CLI (`meltano schedule list`,
`meltano job list` and `meltano plugin list`, all with `--format=json`), so the DAGs follow
meltano.yml and its include_paths exactly as Meltano resolves them. The CLI needs a few
seconds and Airflow parses DAG files every few minutes, so the answer is cached in a file
keyed by a hash of the project files it depends on: editing meltano.yml or a plugin file
rebuilds it on the next parse. meltano_pipelines.py turns the description into DAGs' steps.

This module has no Airflow import, so the root test suite can check it without Airflow.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

CACHE_VERSION = 1


class MeltanoProjectError(RuntimeError):
    """The project could not be read or a job cannot be turned into run steps."""


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
