"""Run the target as a real subprocess on Singer messages, against a real DuckDB file."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest


@dataclass
class Run:
    returncode: int
    states: list[dict]
    stderr: str

    @property
    def errors(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if "| ERROR" in line]


@dataclass
class Loader:
    """The target with a config of its own, writing one DuckDB file."""

    workdir: Path
    config: dict[str, Any]

    @property
    def database(self) -> Path:
        return Path(self.config["path"])

    def run(self, messages: list[dict | str], **config: Any) -> Run:
        config_path = self.workdir / "config.json"
        config_path.write_text(json.dumps({**self.config, **config}))
        lines = "".join((m if isinstance(m, str) else json.dumps(m)) + "\n" for m in messages)
        completed = subprocess.run(
            [sys.executable, "-m", "target_duckdb_append.target", "--config", str(config_path)],
            input=lines,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        states = [json.loads(line) for line in completed.stdout.splitlines() if line.strip()]
        return Run(completed.returncode, states, completed.stderr)

    def query(self, sql: str) -> list[tuple]:
        con = duckdb.connect(str(self.database), read_only=True)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    def write_batch(self, name: str, records: list[dict], *, gzipped: bool = False) -> Path:
        path = self.workdir / "batches" / name
        path.parent.mkdir(exist_ok=True)
        text = "".join(json.dumps(r) + "\n" for r in records).encode()
        path.write_bytes(gzip.compress(text) if gzipped else text)
        return path


@pytest.fixture
def loader(tmp_path: Path) -> Loader:
    return Loader(tmp_path, {"path": str(tmp_path / "warehouse" / "test.duckdb")})


def schema(stream: str, properties: dict[str, Any], keys: list[str]) -> dict:
    return {
        "type": "SCHEMA",
        "stream": stream,
        "schema": {"type": "object", "properties": properties},
        "key_properties": keys,
    }


def record(stream: str, values: dict[str, Any], extracted: str | None = None) -> dict:
    message: dict[str, Any] = {"type": "RECORD", "stream": stream, "record": values}
    if extracted:
        message["time_extracted"] = extracted
    return message


def state(day: str) -> dict:
    return {"type": "STATE", "value": {"bookmarks": {"orders": {"replication_key_value": day}}}}


def batch(stream: str, *paths: Path, compression: str = "none") -> dict:
    return {
        "type": "BATCH",
        "stream": stream,
        "encoding": {"format": "jsonl", "compression": compression},
        "manifest": [p.as_uri() for p in paths],
    }
