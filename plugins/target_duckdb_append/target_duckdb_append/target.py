"""target-duckdb-append: a Singer target appending RECORD and BATCH messages to DuckDB.

This module is the Singer SDK side: settings, command line, the message handlers the SDK
calls, signals. Rows are appended to `<schema>.<stream>` (no merge: the raw layer may hold
replays, staging deduplicates) by load.Load, which passes a STATE on only once every row
before it is committed.
"""

from __future__ import annotations

import signal
import typing as t

import duckdb
from singer_sdk import Target
from singer_sdk.helpers.capabilities import PluginCapabilities

from target_duckdb_append.batch import batch_files
from target_duckdb_append.errors import LoadError
from target_duckdb_append.load import Load
from target_duckdb_append.reader import FastSingerReader
from target_duckdb_append.settings import CONFIG_JSONSCHEMA

if t.TYPE_CHECKING:
    from types import FrameType


class TargetDuckdbAppend(Target):
    """Append-only Singer target for DuckDB that loads BATCH files and RECORDs with read_json."""

    name = "target-duckdb-append"
    message_reader_class = FastSingerReader
    capabilities: t.ClassVar[list] = [
        PluginCapabilities.ABOUT,
        PluginCapabilities.STRUCTURED_LOGGING,
        PluginCapabilities.BATCH,
    ]
    config_jsonschema = CONFIG_JSONSCHEMA

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        kwargs["setup_mapper"] = False  # stream maps are not supported: records pass as is
        super().__init__(*args, **kwargs)
        self._load: Load | None = None

    @classmethod
    def append_builtin_config(cls, config_jsonschema: dict) -> None:
        """No SDK built-in settings: the target does not support the ones it would add."""

    @classmethod
    def invoke(cls, *args: t.Any, **kwargs: t.Any) -> None:
        """The SDK's run of the target, with load errors reported on one line."""
        try:
            super().invoke(*args, **kwargs)
        except (LoadError, duckdb.Error) as exc:
            text = str(exc).strip().splitlines()
            cls.logger.error("%s", text[0] if text else repr(exc))
            raise SystemExit(1) from None

    @property
    def load(self) -> Load:
        if self._load is None:
            self._load = Load(self.config, self.logger)
        return self._load

    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        # The SDK drains and writes the latest STATE here; rows not committed must not be
        # bookmarked, so stop: the open transaction rolls back when the connection closes.
        self.logger.warning(
            "Received %s: stopping without committing pending rows", signal.Signals(signum).name
        )
        raise SystemExit(128 + signum)

    def listen(self, file_input: t.IO | None = None) -> None:
        try:
            super().listen(file_input)
        finally:
            if self._load is not None:
                self._load.close()

    # The SDK's message handlers, each handing its message to the load.

    def _process_schema_message(self, message_dict: dict) -> None:
        self.load.schema(message_dict)

    def _process_record_message(self, message_dict: dict) -> None:
        spec = self.load.spec(message_dict, "RECORD")
        self.load.record(spec, self.message_reader.current_line)  # type: ignore[attr-defined]

    def _process_batch_message(self, message_dict: dict) -> None:
        spec = self.load.spec(message_dict, "BATCH")
        self.load.batch(spec, batch_files(message_dict, spec.stream))

    def _process_state_message(self, message_dict: dict) -> None:
        if "value" not in message_dict:
            raise LoadError("STATE message without a 'value'")
        self.load.state(message_dict["value"])

    def _process_activate_version_message(self, message_dict: dict) -> None:
        self.logger.warning(
            "ACTIVATE_VERSION for stream '%s' ignored: the target only appends",
            message_dict.get("stream"),
        )

    def process_endofpipe(self) -> None:
        self.load.finish()


if __name__ == "__main__":
    TargetDuckdbAppend.cli()
