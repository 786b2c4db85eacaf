"""Shared fixtures: a real DuckDB file and manifest per test, and the run's settings."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import datagen
from bnpl_ml.config import TrainConfig


@pytest.fixture
def make_config(tmp_path: Path):
    """Settings for a run over a generated training set (options as keyword arguments)."""

    def make(frame=None, manifest=None, **settings) -> TrainConfig:
        duckdb_path = tmp_path / "bnpl.duckdb"
        datagen.write_training_set(duckdb_path, datagen.training_rows() if frame is None else frame)
        manifest_path = datagen.write_manifest(
            tmp_path / "manifest.json", datagen.manifest() if manifest is None else manifest
        )
        return TrainConfig(
            duckdb_path=duckdb_path,
            manifest_path=manifest_path,
            output_dir=tmp_path / "ml",
            **settings,
        )

    return make
