"""Shared fixtures: one Great Expectations import per session, a fresh DuckDB file per test."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from bnpl_quality.config import GateConfig


@pytest.fixture(scope="session")
def gx():
    from bnpl_quality.gx_runtime import import_gx

    return import_gx()


@pytest.fixture
def duckdb_path(tmp_path: Path) -> Path:
    return tmp_path / "bnpl.duckdb"


@pytest.fixture
def config(tmp_path: Path, duckdb_path: Path) -> GateConfig:
    # Data Docs cost a second a run; the tests that look at them turn them on. The generated
    # days quarantine one line each, up to 1 in 16 on Thanksgiving: above the default share.
    return GateConfig(
        duckdb_path=duckdb_path,
        report_dir=tmp_path / "quality",
        data_docs=False,
        max_quarantine_share=0.1,
    )


@pytest.fixture
def gate(gx, config):
    """Run the gate in-process (sharing the GX import) with optional setting overrides."""
    from bnpl_quality.gate import run_gate

    def run(**overrides):
        return run_gate(replace(config, **overrides), gx=gx)

    return run
