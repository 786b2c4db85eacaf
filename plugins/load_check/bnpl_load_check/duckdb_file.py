"""The DuckDB file (BNPL_DUCKDB_PATH) can hold the warehouse.

Refused, in one line: a directory, a folder that cannot be written, a file this DuckDB
cannot open (one written by a newer DuckDB, or not a DuckDB file), and a file named like
one of the warehouse's schemas (DuckDB names the database after the file, so in
`raw.duckdb` the name `raw.transactions` is ambiguous).
"""

from __future__ import annotations

import os
from pathlib import Path

from bnpl_load_check import PreflightError, first_line

# The schemas the pipeline writes in the DuckDB file: the loader's, dbt's, the gate's and
# the run log's.
WAREHOUSE_SCHEMAS = ("raw", "staging", "intermediate", "marts", "quality", "ops")


def check_duckdb_path(path: Path) -> str:
    """The DuckDB file can hold the warehouse; returns what was found, else PreflightError."""
    import duckdb

    where = f"duckdb_path: {path}"
    if path.is_dir():
        raise PreflightError(f"{where} is a directory; expected the path of a DuckDB file")
    if path.stem.lower() in WAREHOUSE_SCHEMAS:
        raise PreflightError(
            f"{where}: a file named {path.stem!r} gives the database the name of the "
            f"warehouse's schema {path.stem.lower()!r}, which makes table names ambiguous; "
            "choose another file name (BNPL_DUCKDB_PATH)"
        )
    if not path.exists():
        folder = next(parent for parent in path.parents if parent.exists())
        if not (folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)):
            raise PreflightError(f"{where} cannot be created: {folder} is not writable")
        return f"{path} will be created"
    try:
        duckdb.connect(str(path), read_only=True).close()
    except duckdb.Error as exc:
        raise PreflightError(
            f"{where} cannot be opened by duckdb {duckdb.__version__}: {first_line(exc)}"
        ) from exc
    return f"{path} opens with duckdb {duckdb.__version__}"
