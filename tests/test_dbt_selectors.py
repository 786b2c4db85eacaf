"""The jobs' two dbt steps split the project's build at the quality gate, each node once.

`dbt-*:build-staging` runs before the gate and must build nothing the marts consumers read,
nor any test that reads a mart (on a first run the mart would not exist yet; later it would
test the old mart). `dbt-*:build-marts` runs after the gate. Together they must select what
the whole-project `build` selects, so no test is lost or run twice. Checked with `dbt ls` on
the very arguments of the Meltano commands, through the real dbt-duckdb utility.
"""

from __future__ import annotations

import json
import shlex

import pytest
import yaml

from conftest import ROOT, Project

pytestmark = [pytest.mark.job]

COMMANDS = ("build", "build-staging", "build-marts")


def command_args(utility: str) -> dict[str, list[str]]:
    """{command: dbt arguments} of the build commands of a dbt utility."""
    document = yaml.safe_load((ROOT / "plugins" / "transformers.meltano.yml").read_text())
    (plugin,) = [p for p in document["plugins"]["utilities"] if p["name"] == utility]
    return {name: shlex.split(plugin["commands"][name]["args"]) for name in COMMANDS}


def listed(project: Project, build_args: list[str]) -> dict[str, list[str]]:
    """{unique_id: the nodes it reads} that `dbt build BUILD_ARGS` would run."""
    assert build_args[0] == "build", build_args
    run = project.meltano(
        "invoke",
        "dbt-duckdb",
        "ls",
        *build_args[1:],
        "--output",
        "json",
        "--output-keys",
        "unique_id depends_on",
    )
    assert run.returncode == 0, run.tail()
    # Meltano prefixes each line dbt prints with its own log fields.
    nodes = [
        json.loads(line[line.index('{"unique_id"') :])
        for line in run.output.splitlines()
        if '{"unique_id"' in line
    ]
    return {node["unique_id"]: node.get("depends_on", {}).get("nodes", []) for node in nodes}


def is_mart(unique_id: str) -> bool:
    return unique_id.startswith("model.bnpl.mart_")


def test_both_utilities_split_the_build_the_same_way() -> None:
    assert command_args("dbt-duckdb") == command_args("dbt-bigquery")


def test_staging_and_marts_steps_partition_the_whole_build(project: Project) -> None:
    args = command_args("dbt-duckdb")
    whole = listed(project, args["build"])
    staging = listed(project, args["build-staging"])
    marts = listed(project, args["build-marts"])

    assert set(staging).isdisjoint(marts), sorted(set(staging) & set(marts))
    assert set(staging) | set(marts) == set(whole), sorted(set(whole) ^ (set(staging) | set(marts)))

    # Before the gate: the seeds, staging and intermediate, and nothing that reads a mart.
    assert {"seed.bnpl.us_public_holidays", "seed.bnpl.us_state_codes"} <= set(staging)
    assert "model.bnpl.stg_simtom__transactions" in staging
    assert "model.bnpl.int_bnpl_customer_profiles" in staging
    # Keyed by the request window, it reads the staged transactions, not the marts.
    assert "model.bnpl.int_bnpl_risk_features_by_window" in staging
    reads_a_mart = [
        uid for uid, reads in staging.items() if is_mart(uid) or any(map(is_mart, reads))
    ]
    assert not reads_a_mart, reads_a_mart

    # After the gate: the marts, and tests that read a mart (some read staging too).
    assert all(is_mart(uid) for uid in marts if uid.startswith("model."))
    assert all(any(map(is_mart, reads)) for uid, reads in marts.items() if uid.startswith("test."))
    across_layers = [
        uid
        for uid, reads in marts.items()
        if uid.startswith("test.") and not all(map(is_mart, reads))
    ]
    assert any("int_bnpl_customer_profiles" in uid for uid in across_layers), across_layers
    assert "model.bnpl.mart_bnpl_reconciliation" in marts
