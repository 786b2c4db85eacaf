"""The ML marts' split rules and column roles on DuckDB over a week of local-server data.

Real dbt through Meltano's dbt-duckdb utility. A week is shorter than the label horizon
(42 days at the least for the local server's plans), so with the maturity rule on nothing in
it may train; the first build turns the rule off to give every split rows to check.
The week in raw is the one test_dbt_transform builds too (conftest.week_loaded, loaded once
by the tap and the loader alone); this test builds it in a copy of its own.
"""

from __future__ import annotations

import json

import pytest
from test_dbt_transform import dbt

from conftest import Project

pytestmark = [pytest.mark.job, pytest.mark.slow]

# 7 days, 50 / 25 percent: validation starts on day 4, test on day 6; one gap day before each.
DEMO_VARS = {
    "bnpl_split_require_mature_labels": False,
    "bnpl_split_train_percent": 50,
    "bnpl_split_validation_percent": 25,
}
DEMO_DAY_SPLITS = {
    "2024-11-25": ("train", None),
    "2024-11-26": ("train", None),
    "2024-11-27": ("excluded", "gap_before_validation"),
    "2024-11-28": ("validation", None),
    "2024-11-29": ("excluded", "gap_before_test"),
    "2024-11-30": ("test", None),
    "2024-12-01": ("test", None),
}
SETTLED_TEST = "test.bnpl.assert_ml_training_labels_settled_before_validation"


def day_splits(project: Project) -> dict[str, set[tuple[str, str | None]]]:
    """{day: the (dataset_split, split_exclusion_reason) pairs of its rows}."""
    per_day: dict[str, set[tuple[str, str | None]]] = {}
    for day, split, reason in project.query(
        "SELECT DISTINCT transaction_date::VARCHAR, dataset_split, split_exclusion_reason "
        "FROM marts.mart_bnpl_ml_training_set"
    ):
        per_day.setdefault(day, set()).add((split, reason))
    return per_day


def split_rows(project: Project) -> list[tuple]:
    return project.query(
        "SELECT transaction_key, dataset_split, split_exclusion_reason, label_available_at "
        "FROM marts.mart_bnpl_ml_training_set ORDER BY transaction_key"
    )


def failing_test(project: Project, test_name: str, *args: str) -> tuple[int, list[tuple]]:
    """`dbt test --select TEST_NAME`, which must fail: its failure count and failing rows."""
    run = project.meltano("invoke", "dbt-duckdb", "test", "--select", test_name, *args)
    assert run.returncode != 0, run.tail()
    results = json.loads((project.workdir / "dbt-target" / "run_results.json").read_text())
    (result,) = results["results"]
    compiled = next((project.workdir / "dbt-target" / "compiled").rglob(f"{test_name}.sql"))
    return result["failures"], project.query(compiled.read_text())


def test_split_gap_maturity_and_roles_on_a_week(week: Project) -> None:
    # The week in raw, nothing transformed yet (a copy of the shared week_loaded).
    project = week

    # Maturity rule off: every train-period day trains; the settled-label test sees the
    # rows a model fitted at the validation start could not have known, and warns.
    demo = dbt(project, "build", "--vars", json.dumps(DEMO_VARS))
    statuses = {result["unique_id"]: result["status"] for result in demo["results"]}
    assert statuses.pop(SETTLED_TEST) == "warn"
    assert {status for status in statuses.values()} <= {"success", "pass"}, statuses
    assert day_splits(project) == {
        day: {split_and_reason} for day, split_and_reason in DEMO_DAY_SPLITS.items()
    }
    (unsettled,) = project.query(
        "SELECT count(*) FROM marts.mart_bnpl_ml_training_set WHERE dataset_split = 'train' "
        "AND label_available_at >= TIMESTAMP '2024-11-28 00:00:00'"
    )[0]
    assert unsettled > 0
    # label_available_at: the first missed payment of a default, else the last due date.
    (wrong_label_times,) = project.query(
        "SELECT count(*) FROM marts.mart_bnpl_ml_training_set WHERE label_available_at != "
        "CASE WHEN will_default THEN transacted_at + to_days(days_to_first_missed_payment) "
        "ELSE transacted_at + to_days((installment_count - 1) * 14) END"
    )[0]
    assert wrong_label_times == 0

    # The gap test reads the var: the table's one-day gaps are too short for two days.
    longer_gap = json.dumps({**DEMO_VARS, "bnpl_split_gap_days": 2})
    failures, rows = failing_test(project, "assert_ml_split_gap", "--vars", longer_gap)
    assert failures == 2
    assert {(split, str(last), after) for split, last, after, _first in rows} == {
        ("train", "2024-11-26", "validation"),
        ("validation", "2024-11-28", "test"),
    }

    # Default vars on an incremental run: each day whose split moved is merged again, and no
    # train-period row of a week has its last installment due before the validation start.
    default = dbt(project, "build")
    assert {result["status"] for result in default["results"]} <= {"success", "pass"}
    assert not project.query(
        "SELECT 1 FROM marts.mart_bnpl_ml_training_set WHERE dataset_split = 'train'"
    )
    incremental_rows = split_rows(project)
    dbt(project, "build", "--full-refresh", "--select", "mart_bnpl_ml_training_set")
    assert split_rows(project) == incremental_rows

    # A column in the table that the yml does not give an ml_role fails the roles test.
    project.execute("ALTER TABLE marts.mart_bnpl_ml_features ADD COLUMN unlabelled_signal INTEGER")
    failures, rows = failing_test(project, "assert_ml_columns_have_roles")
    assert failures == 1
    assert rows == [("mart_bnpl_ml_features", "unlabelled_signal", "not documented in the yml")]
