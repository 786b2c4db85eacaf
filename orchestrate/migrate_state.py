"""Move the DuckDB pipeline's state from the loader's old Meltano name to its new one, once.

    python orchestrate/migrate_state.py [--environment dev]     (make migrate-state)

The project's DuckDB loader was the Meltano plugin `target-duckdb`, the name of a public Hub
target it is not; it is `target-duckdb-append` now. Meltano names a pipeline's state after
its plugins, so the state id went from `<env>:tap-simtom-bnpl-to-target-duckdb` to
`<env>:tap-simtom-bnpl-to-target-duckdb-append`, and a run finding no state under the new
id would extract everything again from start_date. This copies the state across with
`meltano state copy`, checks the copy, then clears the old id. Run again, it says there is
nothing to migrate. It never overwrites state already under the new id that differs: it
names both bookmarks and exits 1, changing nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "orchestrate" / "airflow" / "dags"))

import meltano_description  # noqa: E402

PIPELINE = "tap-simtom-bnpl-to-{loader}"
OLD_LOADER = "target-duckdb"
LOADER = "target-duckdb-append"


class MigrationError(Exception):
    """A state the migration will not touch, or a meltano command that failed; one line."""


def state_ids(environment: str) -> tuple[str, str]:
    """(old, new) state id of the DuckDB pipeline in the environment."""
    return (
        f"{environment}:{PIPELINE.format(loader=OLD_LOADER)}",
        f"{environment}:{PIPELINE.format(loader=LOADER)}",
    )


def _meltano(meltano: str, environment: str, *args: str) -> str:
    command = [meltano, f"--environment={environment}", "state", *args]
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise MigrationError(f"`meltano {' '.join(command[1:])}` failed: {last}")
    return done.stdout


def existing(meltano: str, environment: str) -> set[str]:
    """Which of the pipeline's old and new state ids hold state."""
    old, new = state_ids(environment)
    listed = _meltano(meltano, environment, "list", "--pattern", f"{old}*").split()
    return {state_id for state_id in listed if state_id in (old, new)}


def _get(meltano: str, environment: str, state_id: str) -> dict:
    return json.loads(_meltano(meltano, environment, "get", state_id) or "{}")


def _bookmarks(state: dict) -> str:
    """The bookmark values of a state, for the user: `transactions=2024-11-27, ...`."""
    marks = (state.get("singer_state") or {}).get("bookmarks") or {}
    shown = [
        f"{stream}={mark.get('replication_key_value')}"
        for stream, mark in sorted(marks.items())
        if isinstance(mark, dict)
    ]
    return ", ".join(shown) or "no bookmarks"


def unmigrated(meltano: str, environment: str) -> str | None:
    """Why a run must not start yet (state only under the old id), or None."""
    old, new = state_ids(environment)
    if existing(meltano, environment) != {old}:
        return None
    return (
        f"state {old} is under the DuckDB loader's old name and {new} has none, so this run "
        "would extract again from start_date: run `make migrate-state` once first "
        "(or `make reset` to start over)"
    )


def migrate(meltano: str, environment: str) -> str:
    """Move the old id's state to the new id; returns the line to print."""
    old, new = state_ids(environment)
    found = existing(meltano, environment)
    if old not in found:
        return f"nothing to migrate: no state under {old}"
    state = _get(meltano, environment, old)
    if new in found:
        current = _get(meltano, environment, new)
        if current != state:
            raise MigrationError(
                f"not migrating: {new} already has state ({_bookmarks(current)}) that differs "
                f"from {old} ({_bookmarks(state)}); keep the new one with `meltano "
                f"--environment={environment} state clear --force {old}`, or take the old one "
                f"with `meltano --environment={environment} state copy --force {old} {new}`"
            )
    else:
        _meltano(meltano, environment, "copy", "--force", old, new)
        copied = _get(meltano, environment, new)
        if copied != state:
            raise MigrationError(f"state copied to {new} differs from {old}; {old} is kept")
    _meltano(meltano, environment, "clear", "--force", old)
    return f"moved the state of {old} to {new} ({_bookmarks(state)}); the next run continues there"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="migrate_state.py", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--environment",
        default=os.environ.get("MELTANO_ENVIRONMENT") or "dev",
        help="Meltano environment (default: $MELTANO_ENVIRONMENT, else dev)",
    )
    args = parser.parse_args(argv)
    try:
        line = migrate(meltano_description.find_meltano(ROOT), args.environment)
    except (MigrationError, meltano_description.MeltanoProjectError) as exc:
        print(f"migrate_state: {exc}", file=sys.stderr)
        return 1
    print(f"migrate_state: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
