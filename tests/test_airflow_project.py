"""How the DAG file reads the Meltano project (orchestrate/airflow/dags/meltano_description.py)
and splits its jobs into steps (meltano_pipelines.py).

These run in the root venv, without Airflow: the splitting of jobs into `meltano run` steps,
the description read through the real Meltano CLI, and its cache.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DAGS = ROOT / "orchestrate" / "airflow" / "dags"
sys.path.insert(0, str(DAGS))

import meltano_description as md  # noqa: E402
import meltano_pipelines as mp  # noqa: E402

MELTANO = shutil.which("meltano") or str(ROOT / ".venv" / "bin" / "meltano")
TYPES = {
    "tap-a": "extractor",
    "tap-b": "extractor",
    "map-clean": "mapper",
    "target-x": "loader",
    "target-y": "loader",
    "dbt-x": "utility",
    "quality": "utility",
}


def ids(steps: list[mp.RunStep]) -> list[str]:
    return [step.task_id for step in steps]


def test_extract_load_block_stays_one_step_and_commands_split() -> None:
    tokens = mp.job_tokens("daily", {"daily": ["tap-a target-x dbt-x:build quality:gate"]})
    steps = mp.split_steps("daily", tokens, TYPES)
    assert ids(steps) == ["tap-a-to-target-x", "dbt-x__build", "quality__gate"]
    assert [step.args for step in steps] == [
        ("tap-a", "target-x"),
        ("dbt-x:build",),
        ("quality:gate",),
    ]
    assert [step.extract_load for step in steps] == [True, False, False]


def test_mappers_and_mappings_belong_to_their_block() -> None:
    tokens = ["tap-a", "map-clean", "a-mapping-name", "target-x", "tap-b", "target-y"]
    steps = mp.split_steps("j", tokens, {**TYPES, "a-mapping-name": "mapper"})
    assert [step.args for step in steps] == [
        ("tap-a", "map-clean", "a-mapping-name", "target-x"),
        ("tap-b", "target-y"),
    ]


def test_nested_task_lists_flatten_in_order_like_meltano() -> None:
    jobs = {"all": [["tap-a  target-x", ["dbt-x:run"]], "dbt-x:test"]}
    assert mp.job_tokens("all", jobs) == ["tap-a", "target-x", "dbt-x:run", "dbt-x:test"]


def test_a_job_named_inside_a_job_is_not_a_block() -> None:
    """`meltano run` expands job names given on its command line, not inside a job."""
    jobs = {"el": ["tap-a target-x"], "all": ["el dbt-x:run"]}
    with pytest.raises(md.MeltanoProjectError, match="job all: block 'el' names no plugin"):
        mp.split_steps("all", mp.job_tokens("all", jobs), TYPES)


def test_repeated_step_gets_a_distinct_task_id() -> None:
    steps = mp.split_steps("j", ["dbt-x:run", "quality:gate", "dbt-x:run"], TYPES)
    assert ids(steps) == ["dbt-x__run", "quality__gate", "dbt-x__run_2"]


@pytest.mark.parametrize(
    ("tokens", "message"),
    [
        (["tap-a", "dbt-x:build"], "job j: extractor tap-a reaches 'dbt-x:build' before a loader"),
        (["tap-a", "map-clean"], "job j: extractor tap-a has no loader after it"),
        (["target-x"], "job j: loader target-x has no extractor before it"),
        (["nope:run"], "job j: block 'nope:run' names no plugin of the project"),
        ([], "job j: has no tasks"),
    ],
)
def test_bad_jobs_fail_with_one_line_naming_the_block(tokens: list[str], message: str) -> None:
    with pytest.raises(md.MeltanoProjectError) as error:
        mp.split_steps("j", tokens, TYPES)
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)


def yaml_project(root: Path) -> dict:
    """meltano.yml merged with its include_paths, read with plain YAML (the test's oracle)."""
    main = yaml.safe_load((root / "meltano.yml").read_text())
    merged = {"jobs": list(main.get("jobs", [])), "schedules": list(main.get("schedules", []))}
    types: dict[str, str] = {}
    documents = [main]
    for pattern in main.get("include_paths", []):
        for path in sorted(root.glob(pattern.removeprefix("./"))):
            documents.append(yaml.safe_load(path.read_text()) or {})
    for document in documents:
        if document is not main:
            merged["jobs"] += document.get("jobs", [])
            merged["schedules"] += document.get("schedules", [])
        for plural, plugins in (document.get("plugins") or {}).items():
            for plugin in plugins:
                types[plugin["name"]] = plural.removesuffix("s")
    merged["types"] = types
    return merged


@pytest.fixture(scope="module")
def description() -> dict:
    return md.describe_project(MELTANO, ROOT)


def test_pipelines_match_meltano_yml(description: dict) -> None:
    """One pipeline per schedule and per unscheduled job, with the job's blocks in order."""
    project = yaml_project(ROOT)
    by_id = {pipeline.dag_id: pipeline for pipeline in mp.pipelines(description)}

    scheduled = {entry["job"] for entry in project["schedules"]}
    expected_ids = [entry["name"] for entry in project["schedules"]] + [
        job["name"] for job in project["jobs"] if job["name"] not in scheduled
    ]
    assert sorted(by_id) == sorted(expected_ids)
    assert {"daily", "backfill"} <= set(by_id)

    jobs = {job["name"]: job["tasks"] for job in project["jobs"]}
    for entry in project["schedules"]:
        pipeline = by_id[entry["name"]]
        assert pipeline.schedule == entry["interval"]
        assert pipeline.job == entry["job"]
    for pipeline in by_id.values():
        blocks = " ".join(
            " ".join(task) if isinstance(task, list) else task for task in jobs[pipeline.job]
        ).split()
        # The steps, joined again, are exactly the job's blocks in their order.
        assert [arg for step in pipeline.steps for arg in step.args] == blocks
        for step in pipeline.steps:
            first_type = project["types"].get(step.args[0].split(":")[0])
            if step.extract_load:
                assert first_type == "extractor"
                assert project["types"][step.args[-1]] == "loader"
            else:
                assert len(step.args) == 1
    assert by_id["backfill"].schedule is None
    assert by_id["daily"].schedule == "0 2 * * *"


def copy_project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "meltano.yml", project / "meltano.yml")
    shutil.copytree(ROOT / "plugins", project / "plugins", ignore=shutil.ignore_patterns("quality"))
    return project


def test_description_is_cached_until_a_project_file_changes(tmp_path: Path) -> None:
    project = copy_project(tmp_path)
    cache = tmp_path / "cache"
    first = md.load_description(project, MELTANO, cache)
    # A cache hit must not run Meltano at all: a missing executable proves it.
    assert md.load_description(project, "/nonexistent/meltano", cache) == first

    included = project / "plugins" / "loaders.meltano.yml"
    included.write_text(included.read_text() + "\n# touched\n")
    with pytest.raises(md.MeltanoProjectError, match="could not run"):
        md.load_description(project, "/nonexistent/meltano", cache)


def test_schedule_with_manual_interval_becomes_a_manual_dag(tmp_path: Path) -> None:
    project = copy_project(tmp_path)
    document = yaml.safe_load((project / "meltano.yml").read_text())
    document["schedules"] = [
        {"name": "el-only", "interval": "@manual", "job": "el"},
        {"name": "el-hourly", "interval": "@hourly", "job": "el"},
    ]
    document["jobs"] = [{"name": "el", "tasks": ["tap-simtom-bnpl target-duckdb-append"]}]
    (project / "meltano.yml").write_text(yaml.safe_dump(document))
    found = {p.dag_id: p for p in mp.pipelines(md.describe_project(MELTANO, project))}
    assert sorted(found) == ["el-hourly", "el-only"]
    assert found["el-only"].schedule is None
    assert found["el-hourly"].schedule == "0 * * * *"
    assert ids(list(found["el-only"].steps)) == ["tap-simtom-bnpl-to-target-duckdb-append"]


def test_project_root_from_environment_must_hold_meltano_yml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MELTANO_PROJECT_ROOT", str(tmp_path))
    with pytest.raises(md.MeltanoProjectError, match=r"expected a directory holding meltano\.yml"):
        md.find_project_root()
    monkeypatch.delenv("MELTANO_PROJECT_ROOT")
    assert md.find_project_root(DAGS / "meltano_schedules.py") == ROOT
