"""The DuckDB loader keeps every record of a batch.

target-duckdb 0.8.0 stages batches as header-less CSV and DuckDB 1.5.5 may read the first
line of such a file as a header; the project runs it through `target-duckdb-headerless`
(plugins/target_duckdb_headerless). These tests load a small Singer stream through the
installed plugin, and show the plain executable still loses a row, which is why the
wrapper exists.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import duckdb
import pytest

from conftest import ROOT, Project

PLUGIN_BIN = ROOT / ".meltano" / "loaders" / "target-duckdb" / "venv" / "bin"

# Only string columns: the case in which DuckDB takes the first CSV line for a header.
SCHEMA = {
    "type": "SCHEMA",
    "stream": "notes",
    "schema": {
        "type": "object",
        "properties": {"note_key": {"type": "string"}, "body": {"type": "string"}},
    },
    "key_properties": ["note_key"],
}
RECORDS = [
    {"type": "RECORD", "stream": "notes", "record": {"note_key": f"k{n}", "body": f"note {n}"}}
    for n in range(5)
]
STATE = {"type": "STATE", "value": {"bookmarks": {"notes": {"replication_key_value": "k4"}}}}


def singer_lines() -> str:
    return "".join(json.dumps(message) + "\n" for message in [SCHEMA, *RECORDS, STATE])


def loaded_keys(path: Path) -> list[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute("SELECT note_key FROM raw.notes ORDER BY 1").fetchall()
        return [row[0] for row in rows]
    finally:
        con.close()


def test_meltano_loader_keeps_the_first_record_of_each_batch(project: Project) -> None:
    # A folder that does not exist yet, as output/ on a fresh clone.
    database = project.workdir / "output" / "nested" / "bnpl.duckdb"
    completed = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "meltano"), "invoke", "target-duckdb"],
        cwd=ROOT,
        env=project.env(BNPL_DUCKDB_PATH=str(database)),
        input=singer_lines(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert loaded_keys(database) == [f"k{n}" for n in range(5)]
    # The target hands the last STATE back once everything before it is stored.
    assert json.loads(completed.stdout.strip().splitlines()[-1]) == STATE["value"]


def test_plain_target_duckdb_loses_the_first_record(tmp_path: Path) -> None:
    if not (PLUGIN_BIN / "target-duckdb").exists():
        pytest.fail("the target-duckdb plugin is not installed: run `make install` first")
    config = tmp_path / "config.json"
    database = tmp_path / "plain.duckdb"
    config.write_text(json.dumps({"path": str(database), "default_target_schema": "raw"}))
    completed = subprocess.run(
        [str(PLUGIN_BIN / "target-duckdb"), "--config", str(config)],
        input=singer_lines(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    # If this starts to fail, target-duckdb or DuckDB fixed the header detection and the
    # wrapper in plugins/target_duckdb_headerless can go.
    assert loaded_keys(database) == [f"k{n}" for n in range(1, 5)]
