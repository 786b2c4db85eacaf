"""The DuckDB loader's rename: state saved under its old Meltano name is moved, not lost.

The loader was the Meltano plugin `target-duckdb`; it is `target-duckdb-append` now, so the
dev state id changed from dev:tap-simtom-bnpl-to-target-duckdb to
dev:tap-simtom-bnpl-to-target-duckdb-append. Without `make migrate-state`
(orchestrate/migrate_state.py) the next run would find no state and extract again from
start_date; `make run` (orchestrate/run_job.py) refuses to start until the state is moved.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import PUBLISHED_END, ROOT, STATE_ID, JobRun, Project, days_between

pytestmark = [pytest.mark.job]

OLD_STATE_ID = "dev:tap-simtom-bnpl-to-target-duckdb"


def script(project: Project, name: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`python orchestrate/NAME ARGS` with the test's Meltano system database and warehouse."""
    return subprocess.run(
        [sys.executable, str(ROOT / "orchestrate" / name), *args],
        cwd=ROOT,
        env=project.env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def set_state(project: Project, state_id: str, state: dict) -> None:
    done = project.meltano("state", "set", "--force", state_id, json.dumps(state))
    assert done.returncode == 0, done.tail()


def get_state(project: Project, state_id: str) -> dict:
    done: JobRun = project.meltano("state", "get", state_id)
    assert done.returncode == 0, done.tail()
    start = done.output.find("{")
    return json.JSONDecoder().raw_decode(done.output[start:])[0] if start >= 0 else {}


def bookmark(day: str) -> dict:
    return {
        "singer_state": {
            "bookmarks": {
                "transactions": {
                    "replication_key": "transaction_date",
                    "replication_key_value": day,
                }
            }
        }
    }


def extraction_days_by_run(project: Project) -> list[list[str]]:
    rows = project.query(
        "SELECT extraction_run_id, list(extraction_date::VARCHAR ORDER BY extraction_date) "
        "FROM raw.extraction_log GROUP BY 1 ORDER BY min(requested_at)"
    )
    return [days for _run_id, days in rows]


@pytest.mark.slow
def test_the_next_daily_run_continues_from_the_bookmark_saved_under_the_old_name(
    published: Project,
) -> None:
    # The first daily run (the shared conftest.published_daily) loaded up to PUBLISHED_END.
    project = published
    saved = get_state(project, STATE_ID)
    # The system database as a checkout from before the rename left it: the same run's
    # state, under the old id only.
    set_state(project, OLD_STATE_ID, saved)
    cleared = project.meltano("state", "clear", "--force", STATE_ID)
    assert cleared.returncode == 0, cleared.tail()
    assert project.state_ids() == [OLD_STATE_ID]

    # `make run` refuses in one line rather than extract from start_date again.
    refused = script(project, "run_job.py", "--environment=dev", "daily")
    assert refused.returncode == 2, refused.stderr[-2000:]
    (line,) = [text for text in refused.stderr.splitlines() if "make migrate-state" in text]
    assert OLD_STATE_ID in line and "not starting job daily" in line
    assert len(extraction_days_by_run(project)) == 1

    migrated = script(project, "migrate_state.py", "--environment=dev")
    assert migrated.returncode == 0, migrated.stderr[-2000:]
    assert migrated.stdout.splitlines() == [
        f"migrate_state: moved the state of {OLD_STATE_ID} to {STATE_ID} "
        f"(customers={PUBLISHED_END}, extraction_log={PUBLISHED_END}, "
        f"quarantine={PUBLISHED_END}, transactions={PUBLISHED_END}); the next run continues there"
    ]
    assert project.state_ids() == [STATE_ID]
    assert get_state(project, STATE_ID) == saved

    second = project.run_job("daily", None, "2024-11-30")
    assert second.returncode == 0, second.tail()
    assert extraction_days_by_run(project) == [
        days_between("2024-11-25", PUBLISHED_END),
        ["2024-11-29", "2024-11-30"],
    ]
    (duplicates,) = project.query(
        "SELECT count(*) - count(DISTINCT transaction_key) FROM raw.transactions"
    )[0]
    assert duplicates == 0

    again = script(project, "migrate_state.py", "--environment=dev")
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stdout.splitlines() == [
        f"migrate_state: nothing to migrate: no state under {OLD_STATE_ID}"
    ]


def test_different_state_under_the_new_name_is_never_overwritten(project: Project) -> None:
    set_state(project, OLD_STATE_ID, bookmark("2024-11-27"))
    set_state(project, STATE_ID, bookmark("2024-11-25"))

    refused = script(project, "migrate_state.py", "--environment=dev")
    assert refused.returncode == 1
    assert refused.stdout == ""
    (line,) = refused.stderr.splitlines()
    assert line.startswith(f"migrate_state: not migrating: {STATE_ID} already has state")
    assert "transactions=2024-11-25" in line and "transactions=2024-11-27" in line
    assert get_state(project, STATE_ID) == bookmark("2024-11-25")
    assert get_state(project, OLD_STATE_ID) == bookmark("2024-11-27")

    # The same state under both ids (a copy interrupted before the old id was cleared).
    set_state(project, STATE_ID, bookmark("2024-11-27"))
    finished = script(project, "migrate_state.py", "--environment=dev")
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert project.state_ids() == [STATE_ID]
    assert get_state(project, STATE_ID) == bookmark("2024-11-27")
