"""tap-simtom-bnpl: the Singer tap for the simtom BNPL API."""

from __future__ import annotations

import contextlib
import functools
import signal
import sys
import typing as t
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

import click
from singer_sdk import Stream, Tap
from singer_sdk import singerlib as singer
from singer_sdk.helpers.capabilities import PluginCapabilities, TapCapabilities

from tap_simtom_bnpl.batch import (
    BatchFiles,
    BatchLocationBusy,
    BatchTarget,
    batch_target_from_config,
)
from tap_simtom_bnpl.client import SimtomAPIError, SimtomClient
from tap_simtom_bnpl.config_schema import CONFIG_SCHEMA
from tap_simtom_bnpl.config_validation import validate_config
from tap_simtom_bnpl.emission import emit_days, takes_records_as_they_are
from tap_simtom_bnpl.extract import RetriesExhausted, RunContext
from tap_simtom_bnpl.progress import Progress
from tap_simtom_bnpl.rejections import RejectedDay, day_problem
from tap_simtom_bnpl.response import DayBatch
from tap_simtom_bnpl.settings import Settings, SettingsError, settings_from_config
from tap_simtom_bnpl.state import DayBookmarks
from tap_simtom_bnpl.streams import EMIT_ORDER, REPLICATION_KEYS, STREAM_TYPES
from tap_simtom_bnpl.sync import count_days, ordered_days
from tap_simtom_bnpl.windows import pending_windows
from tap_simtom_bnpl.writer import EncodedRecords, FastSingerWriter, as_dicts

if t.TYPE_CHECKING:
    from types import FrameType

# Errors whose message says everything: logged as one line, exit code 1, no traceback.
ONE_LINE_ERRORS = (
    SettingsError,
    SimtomAPIError,
    RetriesExhausted,
    BatchLocationBusy,
    RejectedDay,
)


class TapSimtomBnpl(Tap):
    """Singer tap for simtom's BNPL generator: day bookmarks, stable keys, resumable."""

    name = "tap-simtom-bnpl"
    config_jsonschema = CONFIG_SCHEMA
    message_writer_class = FastSingerWriter
    capabilities: t.ClassVar[list] = [
        TapCapabilities.CATALOG,
        TapCapabilities.STATE,
        TapCapabilities.DISCOVER,
        TapCapabilities.TEST,
        PluginCapabilities.ABOUT,
        PluginCapabilities.STREAM_MAPS,
        PluginCapabilities.FLATTENING,
        PluginCapabilities.STRUCTURED_LOGGING,
        PluginCapabilities.BATCH,
    ]

    _settings: Settings | None = None
    _batch_target: BatchTarget | None = None

    # -- settings -------------------------------------------------------------------------

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        # The SDK's check against the schema, plus formats and the checks between settings,
        # with the first problem on one line naming the setting.
        try:
            self._parse_config()
        except SettingsError as exc:
            if raise_errors:
                raise
            return [str(exc)]
        return []

    def _parse_config(self) -> Settings:
        """Validate the config (filling in its defaults, as the SDK does) and parse it."""
        if self._settings is None:
            schema = self.config_jsonschema
            self.append_builtin_config(schema)
            validate_config(schema, self._config)
            self._batch_target = batch_target_from_config(self.config.get("batch_config"))
            self._settings = settings_from_config(self.config)
        return self._settings

    @property
    def settings(self) -> Settings:
        """The validated settings (raises SettingsError when they are invalid)."""
        return self._parse_config()

    @property
    def batch_target(self) -> BatchTarget | None:
        """Where BATCH mode writes its files; None in RECORD mode."""
        self._parse_config()
        return self._batch_target

    def discover_streams(self) -> list[Stream]:
        """The four streams."""
        return [stream_type(self) for stream_type in STREAM_TYPES]

    # -- CLI ------------------------------------------------------------------------------

    @classmethod
    def invoke(cls, *args: t.Any, **kwargs: t.Any) -> None:
        """The SDK's run of the tap, with the tap's known errors reported on one line."""
        try:
            super().invoke(*args, **kwargs)
        except ONE_LINE_ERRORS as exc:
            cls.logger.error("%s", exc)
            raise SystemExit(1) from None

    @classmethod
    def cb_test(cls, ctx: click.Context, param: click.Option, value: str) -> None:
        """--test, with invalid settings reported on one line."""
        try:
            super().cb_test(ctx, param, value)
        except ONE_LINE_ERRORS as exc:
            cls.logger.error("%s", exc)
            ctx.exit(1)

    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        # The SDK writes a STATE and exits 0 here; a day cut short must get neither.
        name = signal.Signals(signum).name
        self.logger.warning("Received %s: stopping; no STATE for the incomplete day", name)
        with contextlib.suppress(OSError, ValueError):  # the target may be gone already
            sys.stdout.flush()
        raise SystemExit(128 + signum)

    # -- sync -----------------------------------------------------------------------------

    def sync_all(self) -> None:  # type: ignore[misc]
        """Extract the configured range: all selected streams together, day by day."""
        self._sync_days(record_limit=None)

    def run_sync_dry_run(  # type: ignore[misc]
        self,
        dry_run_record_limit: int | None = 1,
        streams: Iterable[Stream] | None = None,
    ) -> bool:
        """Sync complete days until `dry_run_record_limit` transactions were emitted."""
        for stream in streams if streams is not None else self.streams.values():
            stream.selected = True
        self._sync_days(record_limit=dry_run_record_limit)
        return True

    def _run_context(self, encode_early: bool = False) -> RunContext:
        """`encode_early`: the records go out as they are, so encode them as they come."""
        settings = self.settings
        client = SimtomClient(settings, user_agent=f"{self.name}/{self.plugin_version}")
        spool = self.spool_directory()
        new_records = functools.partial(EncodedRecords, spool) if encode_early else list
        return RunContext(
            str(uuid.uuid4()),
            settings,
            client,
            self.logger,
            new_records=new_records,
            spool_directory=spool,
        )

    def spool_directory(self) -> Path | None:
        """Where windows read ahead of their turn keep what they receive, and complete days
        their encoded records until written: the BATCH storage directory, or the system's
        temporary directory (TMPDIR) in RECORD mode."""
        target = self.batch_target
        if target is None:
            return None
        target.directory.mkdir(parents=True, exist_ok=True)
        return target.directory

    def _days(self, ctx: RunContext, done_through: t.Any) -> Iterator[DayBatch]:
        settings = ctx.settings
        windows = pending_windows(
            settings.start_date, settings.end_date, settings.effective_window_days, done_through
        )
        return ordered_days(ctx, windows, done_through, settings.max_parallel_requests)

    def _sync_days(self, record_limit: int | None) -> None:
        settings = self.settings
        selected = [name for name, stream in self.streams.items() if stream.selected]
        if not selected:
            self.logger.info("No stream is selected: nothing to extract.")
            return
        bookmarks = DayBookmarks(self.state, REPLICATION_KEYS, selected)
        done_through = bookmarks.done_through()
        if bookmarks.has_bookmarks:
            self.write_message(singer.StateMessage(value=bookmarks.value))
        for name in selected:
            self.streams[name]._write_schema_message()

        emitting = [name for name in EMIT_ORDER if name in selected]
        as_they_are = all(takes_records_as_they_are(self.streams[name]) for name in emitting)
        ctx = self._run_context(encode_early=as_they_are)
        total = count_days(settings.start_date, settings.end_date, done_through)
        self.logger.info(
            "Run %s: %s..%s from %s (%d days to extract%s), %d-day windows, %d in flight",
            ctx.run_id,
            settings.start_date,
            settings.end_date,
            settings.display_url,
            total,
            f", resuming after {done_through}" if done_through else "",
            settings.effective_window_days,
            settings.max_parallel_requests,
        )
        counters = {name: self.streams[name].get_record_counter() for name in emitting}
        files = None
        target = self.batch_target
        if target is not None:
            files = BatchFiles(target, ctx.run_id)
            removed = files.open()
            self.logger.info(
                "BATCH mode: one %s file per stream and day under %s (%d leftover files of "
                "earlier runs deleted)",
                "gzip JSON-lines" if target.compression == "gzip" else "JSON-lines",
                target.location,
                removed,
            )
            counters.update(
                {f"{name} batches": self.streams[name].get_batch_counter() for name in emitting}
            )
        progress = Progress(self.logger, total)
        try:
            with contextlib.ExitStack() as open_counters:
                for counter in counters.values():
                    open_counters.enter_context(counter)  # logs its count when it closes
                with contextlib.closing(self._days(ctx, done_through)) as batches:
                    emit_days(
                        self, batches, emitting, counters, bookmarks, progress, record_limit, files
                    )
        finally:
            if files is not None:
                files.close()
            # Also when a day failed: the fields of the days before it were loaded.
            if ctx.unknown_fields:
                self.logger.warning(
                    "simtom sent fields this tap does not know (kept in "
                    "transactions.extra_fields): %s",
                    ", ".join(sorted(ctx.unknown_fields)),
                )
        progress.summary()

    def iter_stream_records(self, stream_name: str) -> Iterator[dict]:
        """Records of one stream over the configured range (used by Stream.get_records)."""
        bookmarks = DayBookmarks(self.state, REPLICATION_KEYS, [stream_name])
        ctx = self._run_context()
        with contextlib.closing(self._days(ctx, bookmarks.done_through())) as batches:
            for batch in batches:
                problem = day_problem(batch, ctx.settings.max_rejected_share)
                if problem is not None:
                    if stream_name == "quarantine":
                        yield from batch.quarantine
                    raise RejectedDay(problem)
                yield from as_dicts(self.streams[stream_name].day_records(batch))


if __name__ == "__main__":
    TapSimtomBnpl.cli()
