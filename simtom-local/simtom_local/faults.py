"""Fault switches: the ways a shared public simtom instance misbehaves, on demand.

Request-level faults (stall, fail, drop) count ``POST /stream/...`` requests server-wide,
in arrival order, and their counters restart whenever faults are set. Per-stream request
they apply in this order: stall first (a stalled request may still fail), then fail (a
failed request never counts towards drops), then drop. Line-level faults (malformed lines,
records missing a field or with a non-numeric amount) address ``_record_id`` values,
i.e. the 0-based record index within each response, and apply to every response while set.
Schema-drift faults (a field renamed, a field added, a field's value sent as a string)
apply to every record of every response while set, as when simtom's records change shape:
first the renames, then the type changes (by the names as sent), then the added fields.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass
class Faults:
    """What the local server does wrong; the default does nothing wrong."""

    fail_first: int = 0
    """Answer the next N stream requests with ``fail_status`` instead of data."""
    fail_status: int = 500
    """HTTP status of failed requests (500, 502, 503, 429, ...)."""
    retry_after: float | None = None
    """Seconds sent as ``Retry-After`` on failed requests (omitted when None)."""
    drop_after: int | None = None
    """Close the connection abruptly, without the chunked terminator, after N records."""
    drop_requests: int = 1
    """How many (successful) stream requests ``drop_after`` applies to."""
    drop_mid_line: bool = False
    """When dropping, also send the first half of the next line (a torn record)."""
    malformed_every: int = 0
    """Replace every Nth record of a response (index N-1, 2N-1, ...) by a non-JSON line."""
    malformed_at: list[int] = field(default_factory=list)
    """Record indexes replaced by a non-JSON line."""
    missing_transaction_id_at: list[int] = field(default_factory=list)
    missing_customer_id_at: list[int] = field(default_factory=list)
    missing_timestamp_at: list[int] = field(default_factory=list)
    non_numeric_amount_at: list[int] = field(default_factory=list)
    """Record indexes whose ``amount`` is sent as the string ``"n/a"``."""
    rename_field: dict[str, str] = field(default_factory=dict)
    """Fields sent under another name in every record, e.g. ``{"amount": "amount_usd"}``."""
    add_field: dict[str, Any] = field(default_factory=dict)
    """Fields added to every record with these values, e.g. ``{"merchant_tier": "gold"}``."""
    change_type: list[str] = field(default_factory=list)
    """Fields whose value is sent as a string in every record (``12.5`` -> ``"12.5"``)."""
    stall_seconds: float = 0.0
    """Sleep this long before the response's first byte (to provoke client timeouts)."""
    stall_requests: int = 1
    """How many stream requests ``stall_seconds`` applies to."""

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Faults:
        """Faults from a JSON object; unknown fields are an error (typos must not pass)."""
        if not isinstance(data, dict):
            raise ValueError("faults: expected a JSON object of Faults fields")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"faults: unknown field(s) {unknown}; known: {sorted(known)}")
        faults = cls(**data)
        faults.check()
        return faults

    def check(self) -> None:
        """Raise ValueError naming the first field that has the wrong type or value."""
        for name in (
            "fail_first",
            "fail_status",
            "drop_requests",
            "stall_requests",
            "malformed_every",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"faults.{name}: expected a non-negative integer, got {value!r}")
        if not 400 <= self.fail_status <= 599:
            raise ValueError(
                f"faults.fail_status: expected an HTTP error status, got {self.fail_status}"
            )
        if self.drop_after is not None and (
            not isinstance(self.drop_after, int) or self.drop_after < 0
        ):
            raise ValueError("faults.drop_after: expected a non-negative integer or null")
        for name in ("retry_after", "stall_seconds"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, (int, float)) or value < 0):
                raise ValueError(f"faults.{name}: expected non-negative seconds, got {value!r}")
        for name in (
            "malformed_at",
            "missing_transaction_id_at",
            "missing_customer_id_at",
            "missing_timestamp_at",
            "non_numeric_amount_at",
        ):
            value = getattr(self, name)
            if not isinstance(value, (list, tuple)) or not all(
                isinstance(i, int) and i >= 0 for i in value
            ):
                raise ValueError(f"faults.{name}: expected a list of record indexes, got {value!r}")
        renames = self.rename_field
        if not isinstance(renames, dict) or not all(
            isinstance(old, str) and isinstance(new, str) and old and new
            for old, new in renames.items()
        ):
            raise ValueError(
                f"faults.rename_field: expected an object of field name -> new name, got "
                f"{renames!r}"
            )
        if not isinstance(self.add_field, dict) or not all(
            isinstance(name, str) and name for name in self.add_field
        ):
            raise ValueError(
                f"faults.add_field: expected an object of field name -> value, got "
                f"{self.add_field!r}"
            )
        if not isinstance(self.change_type, (list, tuple)) or not all(
            isinstance(name, str) and name for name in self.change_type
        ):
            raise ValueError(
                f"faults.change_type: expected a list of field names, got {self.change_type!r}"
            )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def touches_lines(self) -> bool:
        return bool(
            self.malformed_every
            or self.malformed_at
            or self.missing_transaction_id_at
            or self.missing_customer_id_at
            or self.missing_timestamp_at
            or self.non_numeric_amount_at
            or self.drifts
        )

    @property
    def drifts(self) -> bool:
        """Whether records change shape (schema-drift faults)."""
        return bool(self.rename_field or self.add_field or self.change_type)


@dataclass
class RequestFaults:
    """What one stream request must suffer, decided when it arrives."""

    stall_seconds: float = 0.0
    fail_status: int | None = None
    retry_after: float | None = None
    drop_after: int | None = None
    drop_mid_line: bool = False


class FaultState:
    """Server-wide fault switches and their counters (thread-safe)."""

    def __init__(self, faults: Faults | None = None) -> None:
        self._lock = threading.Lock()
        self.set(faults or Faults())

    def set(self, faults: Faults) -> None:
        faults.check()
        with self._lock:
            self.faults = faults
            self._stalled = self._failed = self._dropped = 0

    def for_request(self) -> RequestFaults:
        """Consume this request's share of the request-level faults."""
        with self._lock:
            faults = self.faults
            decided = RequestFaults()
            if faults.stall_seconds and self._stalled < faults.stall_requests:
                self._stalled += 1
                decided.stall_seconds = float(faults.stall_seconds)
            if self._failed < faults.fail_first:
                self._failed += 1
                decided.fail_status = faults.fail_status
                decided.retry_after = faults.retry_after
                return decided
            if faults.drop_after is not None and self._dropped < faults.drop_requests:
                self._dropped += 1
                decided.drop_after = faults.drop_after
                decided.drop_mid_line = faults.drop_mid_line
            return decided


class LineFaults:
    """Rewrites the lines of one response according to the line-level faults."""

    def __init__(self, faults: Faults) -> None:
        self.every = faults.malformed_every
        self.malformed = set(faults.malformed_at)
        self.drop_keys: dict[int, list[str]] = {}
        for key, indexes in (
            ("transaction_id", faults.missing_transaction_id_at),
            ("customer_id", faults.missing_customer_id_at),
            ("_timestamp", faults.missing_timestamp_at),
        ):
            for index in indexes:
                self.drop_keys.setdefault(index, []).append(key)
        self.bad_amount = set(faults.non_numeric_amount_at)
        self.rename = dict(faults.rename_field)
        self.add = dict(faults.add_field)
        self.as_text = tuple(faults.change_type)
        self.drifts = faults.drifts

    def _drift(self, record: dict) -> dict:
        if self.rename:
            # Rebuilt so that a renamed field keeps its place among the others.
            record = {self.rename.get(key, key): value for key, value in record.items()}
        for name in self.as_text:
            value = record.get(name)
            if name in record and not isinstance(value, str):
                record[name] = json.dumps(value)
        record.update(self.add)
        return record

    def apply(self, lines: list[str], first_record_id: int) -> list[str]:
        """Rewrite ``lines`` (records ``first_record_id``..) in place; returns them."""
        for offset, line in enumerate(lines):
            index = first_record_id + offset
            if index in self.malformed or (self.every and (index + 1) % self.every == 0):
                payload = line[6:-2]
                # A record torn in the middle: realistic, and never valid JSON.
                lines[offset] = f"data: {payload[: len(payload) // 2]}\n\n"
                continue
            if index in self.drop_keys or index in self.bad_amount or self.drifts:
                record = json.loads(line[6:])
                for key in self.drop_keys.get(index, ()):
                    record.pop(key, None)
                if index in self.bad_amount:
                    record["amount"] = "n/a"
                if self.drifts:
                    record = self._drift(record)
                lines[offset] = f"data: {json.dumps(record)}\n\n"
        return lines
