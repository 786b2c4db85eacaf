"""The target's settings: their JSON schema (for `--about` and Meltano) and defaults."""

from __future__ import annotations

from singer_sdk import typing as th

CHECKPOINT_THRESHOLD = "128MB"
# A commit of at least one row group (122,880 rows) writes its rows compressed straight into
# the file; a smaller one goes through the write-ahead log, which the next checkpoint copies
# into the file. Fewer, larger commits cost less CPU (measured in docs/tuning.md).
BATCH_SIZE_ROWS = 300_000
MAX_BATCH_AGE_SECONDS = 300
DEFAULT_SCHEMA = "raw"

CONFIG_JSONSCHEMA = th.PropertiesList(
    th.Property(
        "path",
        th.StringType,
        required=True,
        description="Path of the DuckDB database file (its folder is created if missing).",
    ),
    th.Property(
        "default_target_schema",
        th.StringType,
        default=DEFAULT_SCHEMA,
        description="Schema the stream tables are created in.",
    ),
    th.Property(
        "batch_size_rows",
        th.IntegerType,
        default=BATCH_SIZE_ROWS,
        description=(
            "Rows received (RECORD or BATCH) after which the target commits them and "
            "passes on the latest STATE. Also committed at the end of the input."
        ),
    ),
    th.Property(
        "max_batch_age_seconds",
        th.IntegerType,
        default=MAX_BATCH_AGE_SECONDS,
        description=(
            "On a STATE, commit what is pending if the oldest uncommitted row is older "
            "than this, so a slow source still saves its progress."
        ),
    ),
    th.Property(
        "threads",
        th.IntegerType,
        description="DuckDB threads for reading and inserting (DuckDB's default if unset).",
    ),
    th.Property(
        "checkpoint_threshold",
        th.StringType,
        default=CHECKPOINT_THRESHOLD,
        description=(
            "DuckDB checkpoint_threshold: the write-ahead log size at which a commit "
            "also checkpoints. Below it a commit only appends to the WAL (durable, "
            "replayed on the next open), so the rows are compressed into the database "
            "file every few commits and once more when the input ends, not at every "
            "commit (DuckDB's 16MB default)."
        ),
    ),
    th.Property(
        "memory_limit",
        th.StringType,
        description="DuckDB memory limit, e.g. '2GB' (DuckDB's default if unset).",
    ),
    th.Property(
        "spool_dir",
        th.StringType,
        description=(
            "Folder for the per-stream files RECORD messages are spooled to between "
            "commits (a temporary folder under the system's temp dir if unset)."
        ),
    ),
).to_dict()
