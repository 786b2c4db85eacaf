"""The DuckDB file can hold the warehouse, or is refused in one line before any load.

DuckDB names a database after its file, so a file named like one of the warehouse's
schemas (`raw.duckdb`) makes `raw.transactions` ambiguous for the loader and the gate.
The whole `meltano run daily` refusing such a file before extracting is the project's
tests/test_duckdb_path.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest
from bnpl_load_check import PreflightError
from bnpl_load_check.duckdb_file import check_duckdb_path


@pytest.mark.parametrize("name", ["raw.duckdb", "Marts.db", "quality", "ops.duckdb"])
def test_refuses_a_file_named_like_a_schema(tmp_path: Path, name: str) -> None:
    with pytest.raises(PreflightError, match="choose another file name"):
        check_duckdb_path(tmp_path / name)


def test_refuses_a_directory_and_a_file_duckdb_cannot_open(tmp_path: Path) -> None:
    with pytest.raises(PreflightError, match="is a directory"):
        check_duckdb_path(tmp_path)
    not_duckdb = tmp_path / "bnpl.duckdb"
    not_duckdb.write_text("not a database\n" * 100)
    with pytest.raises(PreflightError, match="cannot be opened by duckdb") as refused:
        check_duckdb_path(not_duckdb)
    assert "\n" not in str(refused.value)


def test_refuses_a_path_under_a_file(tmp_path: Path) -> None:
    # The nearest existing parent is a file: no folder can be created there.
    blocker = tmp_path / "output"
    blocker.write_text("a file, not a folder\n")
    with pytest.raises(PreflightError, match=f"cannot be created: {blocker} is not writable"):
        check_duckdb_path(blocker / "warehouse" / "bnpl.duckdb")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_refuses_a_folder_that_cannot_be_written(tmp_path: Path) -> None:
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(PreflightError, match=f"{folder} is not writable"):
            check_duckdb_path(folder / "bnpl.duckdb")
    finally:
        folder.chmod(0o755)


def test_accepts_a_new_file_and_an_existing_database(tmp_path: Path) -> None:
    fresh = tmp_path / "new" / "folder" / "main.duckdb"
    assert "will be created" in check_duckdb_path(fresh)
    assert not fresh.parent.exists()  # a check writes nothing
    existing = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(existing)).close()
    assert "opens with duckdb" in check_duckdb_path(existing)
