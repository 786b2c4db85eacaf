"""Emitting a day: its records (or batch files) stream by stream, then its STATE.

Stream maps and deselected fields are applied once per day and stream, not per record; a
stream that emits its records as they are hands them on unchanged (structs, encoded as
they are).
"""

from __future__ import annotations

import datetime as dt
import typing as t

from singer_sdk import singerlib as singer
from singer_sdk.mapper import SameRecordTransform

from tap_simtom_bnpl.rejections import RejectedDay, day_problem
from tap_simtom_bnpl.sdk_compat import SDKBatchMessage
from tap_simtom_bnpl.writer import as_dicts, json_lines, record_lines, stdout_bytes

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from tap_simtom_bnpl.batch import BatchFiles
    from tap_simtom_bnpl.progress import Progress
    from tap_simtom_bnpl.response import DayBatch
    from tap_simtom_bnpl.state import DayBookmarks
    from tap_simtom_bnpl.streams import SimtomStream
    from tap_simtom_bnpl.tap import TapSimtomBnpl


def emit_days(
    tap: TapSimtomBnpl,
    batches: Iterator[DayBatch],
    emitting: list[str],
    counters: dict,
    bookmarks: DayBookmarks,
    progress: Progress,
    record_limit: int | None,
    files: BatchFiles | None = None,
) -> None:
    """Write each day's records (or batch files), stream by stream, then its STATE.

    A day that rejected too many lines (`rejections.day_problem`) gets only its
    quarantine rows, as evidence, and no STATE; then the run fails with RejectedDay.
    """
    transactions = 0
    write = stdout_bytes()
    max_share = tap.settings.max_rejected_share
    for batch in batches:
        announced: list[SDKBatchMessage] = []
        problem = day_problem(batch, max_share)
        names = emitting if problem is None else [n for n in emitting if n == "quarantine"]
        for name in names:
            stream = tap.streams[name]
            records = stream.day_records(batch)
            if not records:
                continue
            for alias, mapped in _mapped_records(stream, records):
                if files is None:
                    now = dt.datetime.now(dt.timezone.utc)
                    # No version: the tap sends no ACTIVATE_VERSION (day bookmarks only).
                    write(record_lines(alias, mapped, now))
                elif mapped:
                    url = files.write(alias, batch.day, json_lines(mapped))
                    announced.append(
                        SDKBatchMessage(
                            stream=alias, encoding=files.target.encoding, manifest=[url]
                        )
                    )
                    counters[f"{name} batches"].increment()
            counters[name].increment(len(records))
        # Every file is closed before it is announced, every BATCH precedes the STATE.
        for message in announced:
            tap.write_message(message)
        if problem is not None:
            raise RejectedDay(problem)
        tap.write_message(singer.StateMessage(value=bookmarks.advance(batch.day)))
        progress.day_done(batch)
        transactions += len(batch.transactions)
        if record_limit is not None and transactions >= record_limit:
            tap.logger.info("Stopping after %d transactions (dry run)", transactions)
            return


def takes_records_as_they_are(stream: SimtomStream) -> bool:
    """Whether the stream emits its records unchanged: no stream map, no deselected field."""
    maps = stream.stream_maps
    return (
        len(maps) == 1
        and type(maps[0]) is SameRecordTransform
        and not maps[0].flattening_enabled
        and maps[0].stream_alias == stream.name
        and not stream.deselected_fields()
    )


def _mapped_records(stream: SimtomStream, records: list) -> list[tuple[str, list]]:
    """The records each of the stream's maps emits, by stream alias.

    The same transformations as the SDK's per-record path (deselected fields dropped, stream
    maps and flattening applied), done once per day; the plain case is the records as they
    are (structs, encoded as they are).
    """
    if takes_records_as_they_are(stream):
        return [(stream.name, records)]
    records = as_dicts(records)
    deselected = stream.deselected_fields()
    if deselected:
        for record in records:
            for name in deselected:
                record.pop(name, None)
    maps = stream.stream_maps
    mapped: list[tuple[str, list[dict]]] = []
    for stream_map in maps:
        transformed = (stream_map.transform(record) for record in records)
        mapped.append(
            (stream_map.stream_alias, [record for record in transformed if record is not None])
        )
    return mapped
