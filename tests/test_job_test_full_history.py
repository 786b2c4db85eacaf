"""The weekly job `test-full-history`: every dbt data test over the whole history.

The daily job's data tests read only the rows its build wrote (transform/macros/test_scope.sql),
so its cost does not grow with the history; a bad row in an older day, outside the lookback,
passes them. This job is what catches it. Real parts: the local server, `meltano run daily`,
`meltano run test-full-history`, the test's own DuckDB file (a copy of the session's first
daily run, conftest.published_daily: 2024-11-25..28 loaded and published).
"""

from __future__ import annotations

import json

import pytest

from conftest import PUBLISHED_END, Project

pytestmark = [pytest.mark.job, pytest.mark.slow]

START, NEW_DAY = "2024-11-25", "2024-11-29"
# Outside the lookback (bnpl_lookback_days, 3) of the daily run that adds NEW_DAY.
OLD_DAY = "2024-11-25"
STAGED_KEY_TEST = "unique_stg_simtom__transactions_transaction_key"


def failing_tests(project: Project) -> set[str]:
    results = json.loads((project.workdir / "dbt-target" / "run_results.json").read_text())
    return {
        result["unique_id"].split(".")[2]
        for result in results["results"]
        if result["status"] in {"fail", "error"}
    }


def test_full_history_job_fails_on_an_old_duplicate_the_daily_job_passes(
    published: Project,
) -> None:
    project = published  # the daily job's first run, START..PUBLISHED_END
    assert project.raw_transactions_per_day().keys() == {
        START,
        "2024-11-26",
        "2024-11-27",
        PUBLISHED_END,
    }
    sound = project.meltano("run", "test-full-history")
    assert sound.returncode == 0, sound.tail()
    assert not failing_tests(project)

    # One staged transaction of an old day appears twice (a hand-made fix applied twice).
    project.execute(
        "INSERT INTO staging.stg_simtom__transactions "
        "SELECT * FROM staging.stg_simtom__transactions WHERE transaction_key = "
        "(SELECT min(transaction_key) FROM staging.stg_simtom__transactions "
        "WHERE transaction_date = ?)",
        [OLD_DAY],
    )

    # The daily job ran the same unique test, on the days it wrote: it passed.
    daily = project.run_job("daily", START, NEW_DAY)
    assert daily.returncode == 0, daily.tail()
    assert f"PASS {STAGED_KEY_TEST}" in daily.output
    (written,) = project.query(
        "SELECT count(*) FROM staging.stg_simtom__transactions WHERE transaction_date = ?",
        [NEW_DAY],
    )[0]
    assert written > 0

    weekly = project.meltano("run", "test-full-history")
    assert weekly.returncode != 0
    assert STAGED_KEY_TEST in failing_tests(project)
