"""Secrets never appear in logs, state, the warehouse, the reports or the summary.

Every run of this suite carries a distinctive api_key (sent to the local server, which
requires nothing) and a fake BigQuery service-account key. The clean run's whole scratch
folder is searched for them byte by byte (job log, Meltano system database with the
state, DuckDB file, dbt artifacts and logs, gate reports, Meltano's run folder), every
text column of the warehouse by SQL, and what people paste into issues: the summary
script, `meltano state get`, `meltano config list`.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import ROOT, STATE_ID

from .conftest import CleanReference
from .harness import SECRETS_OF_BIGQUERY, files_containing, tables

pytestmark = [pytest.mark.job, pytest.mark.reliability]


def test_secrets_never_appear_in_any_output(
    api_key: str, clean_reference: CleanReference, record
) -> None:
    project = clean_reference.project
    secrets = [api_key, *SECRETS_OF_BIGQUERY]

    leaks = files_containing(project.workdir, secrets)
    # Every text column of every table, in case the file stores strings compressed.
    for schema, table in sorted(tables(project)):
        columns = project.query(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = ? "
            "AND table_name = ? AND data_type = 'VARCHAR'",
            [schema, table],
        )
        for (column,) in columns:
            for secret in secrets:
                ((hits,),) = project.query(
                    f'SELECT count(*) FROM {schema}."{table}" WHERE "{column}" LIKE ?',
                    [f"%{secret}%"],
                )
                if hits:
                    leaks.append(f"{schema}.{table}.{column}: {secret}")
    outputs = {
        "summary": subprocess.run(
            [
                sys.executable,
                str(ROOT / "scripts" / "summary.py"),
                "--duckdb",
                str(project.duckdb_path),
                "--output",
                str(project.workdir),
            ],
            capture_output=True,
            text=True,
            check=False,
        ).stdout,
        "meltano state get": project.meltano("state", "get", STATE_ID).output,
        "meltano config list (tap)": project.meltano("config", "list", "tap-simtom-bnpl").output,
        "meltano config list (target-bigquery)": project.meltano(
            "config", "list", "target-bigquery"
        ).output,
    }
    leaks += [f"{name}: {s}" for name, text in outputs.items() for s in secrets if s in text]
    record(
        fault="secrets: distinctive api_key and BigQuery key in every run's environment",
        injected=len(secrets),
        runs=1,
        rows_lost=None,
        rows_duplicated=None,
        places_searched=["scratch folder (all files)", "DuckDB text columns", *outputs],
        leaks=leaks,
    )
    # The checks can see: the api_key really reached the job (Meltano shows it redacted).
    assert "api_key" in outputs["meltano config list (tap)"]
    assert outputs["summary"].strip(), "the summary printed nothing"
    assert "bookmarks" in outputs["meltano state get"]
    assert leaks == []
