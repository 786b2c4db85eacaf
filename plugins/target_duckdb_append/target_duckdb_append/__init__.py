"""Append-only Singer target for DuckDB: RECORD and BATCH messages loaded with read_json."""
