"""The project as the benchmarks see it: paths, plugin venvs, the dev tap settings.

Benchmarks run the project's own plugin venvs (installed by `make install`), never a copy.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

from bench.machine import ROOT

BIN = ROOT / ".venv" / "bin"
MELTANO = BIN / "meltano"
SIMTOM_LOCAL = BIN / "simtom-local"
SYS_DIR = ROOT / ".meltano"
TAP_VENV = SYS_DIR / "extractors" / "tap-simtom-bnpl" / "venv"
TAP = TAP_VENV / "bin" / "tap-simtom-bnpl"
TARGET_VENV = SYS_DIR / "loaders" / "target-duckdb-append" / "venv"
DBT_VENV = SYS_DIR / "utilities" / "dbt-duckdb" / "venv"
RESULTS_DIR = ROOT / "bench" / "results"
WORK_DIR = ROOT / "output" / "bench"
QUICK_DIR = WORK_DIR / "quick"


def child_env(**extra: str) -> dict[str, str]:
    """This environment for a measured child, with bytecode caching back on.

    With PYTHONDONTWRITEBYTECODE set (as in some sandboxes and CI images), every Python
    child compiles all its imports from source: seconds of start-up no user would pay.
    """
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    env.update(extra)
    return env


class BenchError(RuntimeError):
    """A benchmark could not run (missing install, a failed child process)."""


def tap_defaults() -> dict[str, Any]:
    """The tap's defaults, from its settings schema: the one place they are declared."""
    from tap_simtom_bnpl.config_schema import CONFIG_SCHEMA

    return {
        name: schema["default"]
        for name, schema in CONFIG_SCHEMA["properties"].items()
        if "default" in schema
    }


def dev_tap_config() -> dict[str, Any]:
    """The tap's configuration in the dev environment: the tap's defaults, then what
    meltano.yml's dev environment sets (only what differs from them)."""
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    for environment in project.get("environments", []):
        if environment.get("name") != "dev":
            continue
        for extractor in environment["config"]["plugins"].get("extractors", []):
            if extractor["name"] == "tap-simtom-bnpl":
                return {**tap_defaults(), **extractor.get("config", {})}
    raise BenchError("meltano.yml: no dev configuration of tap-simtom-bnpl")


def tap_config(api_url: str, start: date, end: date, **overrides: Any) -> dict[str, Any]:
    """The dev tap configuration pointed at `api_url` for start..end."""
    config = dev_tap_config()
    # The tap alone writes RECORD messages: dev's batch_config names a folder through
    # $MELTANO_PROJECT_ROOT, which only Meltano expands, and nobody would load the files.
    config.pop("batch_config", None)
    config.update(
        {"api_url": api_url, "start_date": start.isoformat(), "end_date": end.isoformat()}
    )
    config.update(overrides)
    return config


def days(start: date, count: int) -> tuple[date, date]:
    """First and last day of `count` days from `start`."""
    return start, start + timedelta(days=count - 1)


def require(*paths: Path) -> None:
    """Fail with the fix when a plugin venv or tool is missing."""
    missing = [str(path.relative_to(ROOT)) for path in paths if not path.exists()]
    if missing:
        raise BenchError(f"not installed: {', '.join(missing)}; run `make install` first")


def plugin_version(venv: Path, distribution: str) -> str | None:
    """Version of `distribution` inside a plugin venv."""
    python = venv / "bin" / "python"
    if not python.exists():
        return None
    completed = subprocess.run(
        [
            str(python),
            "-c",
            f"from importlib import metadata; print(metadata.version({distribution!r}))",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return completed.stdout.strip() or None


def write_config(path: Path, config: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config, indent=2))
    return path
