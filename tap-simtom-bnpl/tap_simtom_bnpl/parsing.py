"""Turn one line of a simtom response into a typed record, or a one-line quarantine reason.

simtom sends `data: <JSON object>` lines separated by blank lines; key order varies, so
records are read by key name. A line that is not valid JSON, lacks an identity field
(transaction id, customer id, timestamp, record id) or a numeric amount, or carries a value
of the wrong type is quarantined verbatim with the reason - never dropped, never a crash.
Fields the tap does not know travel on as the JSON text of `extra_fields`.

Well-formed lines are decoded and type-checked in one pass by msgspec against the record's
types; any line it refuses takes the field-by-field check, which words the reason (and
accepts what msgspec is stricter about, such as 4.0 for an integer, or a field it does not
know).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import msgspec
import orjson

from tap_simtom_bnpl.records import BOOL, INT, NUM, RECORD_FIELDS, STR, TransactionRecord

_TYPES = {
    STR: frozenset({str}),
    INT: frozenset({int}),
    NUM: frozenset({int, float}),
    BOOL: frozenset({bool}),
}
_CHECKS = tuple((name, _TYPES[kind], kind, nullable) for name, kind, nullable in RECORD_FIELDS)
_KNOWN = frozenset(name for name, _, _ in RECORD_FIELDS)
MAX_LINE_BYTES = 1 << 20
_MISSING = object()
_UTC = dt.timezone.utc
_datetime_from_iso = dt.datetime.fromisoformat
_decode = msgspec.json.Decoder(TransactionRecord).decode


@dataclass(slots=True)  # not frozen: slower to create, and one is made per record
class Parsed:
    """A valid record: its simtom fields (typed; `_timestamp` in RFC 3339, extra_fields
    set) and its day."""

    record: TransactionRecord
    day: dt.date
    record_id: int


@dataclass(frozen=True, slots=True)
class Rejected:
    """A line that cannot become a record, with its day and record id when readable."""

    reason: str
    day: dt.date | None = None
    record_id: int | None = None


def reason_kind(reason: str) -> str:
    """A quarantine reason without the value it quotes: `amount is not numeric: 'x'` ->
    `amount is not numeric`, so that the lines of one cause count together."""
    return reason.split(": ", 1)[0]


def _show(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class TimestampParser:
    """Zone-less simtom timestamps are UTC; emit them as RFC 3339 with +00:00."""

    def __init__(self) -> None:
        self.days: dict[str, dt.date] = {}  # "YYYY-MM-DD" -> date, of valid timestamps

    def parse(self, value: str) -> tuple[str, dt.date]:
        """Return (RFC 3339 string, UTC date) or raise ValueError."""
        if len(value) == 19 and value[10] == "T":
            _datetime_from_iso(value)  # validates; zone-less means UTC
            prefix = value[:10]
            day = self.days.get(prefix)
            if day is None:
                day = self.days[prefix] = dt.date.fromisoformat(prefix)
            return value + "+00:00", day
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        if len(value) < 16:
            raise ValueError("not a date-time")
        parsed = parsed.replace(tzinfo=_UTC) if parsed.tzinfo is None else parsed.astimezone(_UTC)
        return parsed.isoformat(), parsed.date()


def _type_problem(name: str, kind: str, value: object) -> str:
    article = "an" if kind == INT else "a"
    if name == "amount":
        return f"amount is not numeric: {_show(value)}"
    return f"{name} is not {article} {kind}: {_show(value)}"


class LineParser:
    """Parses the lines of one response; remembers unexpected field names for one warning."""

    def __init__(self) -> None:
        self.timestamps = TimestampParser()
        self.unknown_fields: set[str] = set()

    def parse(self, line: bytes) -> Parsed | Rejected | None:
        """Parse one line (without its newline). Blank lines return None."""
        fast = self.decode(line)
        if fast is not None:
            record, day = fast
            return Parsed(record, day, record._record_id)
        return self.parse_other(line)

    def decode(self, line: bytes) -> tuple[TransactionRecord, dt.date] | None:
        """The common case: a well-formed valid line as (record, its day).

        Types are checked by msgspec, only the values' ranges remain. None means the line
        needs `parse_other`, which words why it is refused (or accepts what msgspec is
        stricter about).
        """
        if line[:6] == b"data: " and len(line) <= MAX_LINE_BYTES:
            try:
                decoded = _decode(line[6:])
            except (msgspec.ValidationError, msgspec.DecodeError):
                return None
            if decoded._record_id >= 0 and decoded.transaction_id and decoded.customer_id:
                value = decoded._timestamp
                # TimestampParser.parse's common case inline, for a day already met.
                if len(value) == 19 and value[10] == "T":
                    day = self.timestamps.days.get(value[:10])
                    if day is not None:
                        try:
                            _datetime_from_iso(value)  # validates; zone-less means UTC
                        except ValueError:
                            return None
                        decoded._timestamp = value + "+00:00"
                        decoded.extra_fields = None
                        return decoded, day
                try:
                    decoded._timestamp, day = self.timestamps.parse(value)
                except ValueError:
                    return None
                decoded.extra_fields = None
                return decoded, day
        return None

    def parse_other(self, line: bytes) -> Parsed | Rejected | None:
        """`parse` for a line `decode` refused: field by field, with the reason."""
        line = line.rstrip(b"\r")
        if not line:
            return None
        if len(line) > MAX_LINE_BYTES:
            return Rejected(f"line longer than {MAX_LINE_BYTES} bytes")
        if not line.startswith(b"data:"):
            return Rejected("not a 'data:' line")
        payload = line[6:] if line[5:6] == b" " else line[5:]
        try:
            raw = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            return Rejected(f"invalid JSON: {' '.join(str(exc).split())}")
        if not isinstance(raw, dict):
            return Rejected(f"record is not a JSON object: {_show(raw)}")
        return self._validate(raw)

    def _validate(self, raw: dict) -> Parsed | Rejected:
        result = self._check(raw)
        if isinstance(result, Rejected):
            # A rejected record still holds its place in the response's numbering.
            record_id = raw.get("_record_id")
            if type(record_id) is int and record_id >= 0:
                return Rejected(result.reason, result.day, record_id)
        return result

    def _check(self, raw: dict) -> Parsed | Rejected:
        get = raw.get
        # Identity first, the timestamp first of all: even a rejected record gets its day.
        stamp = get("_timestamp")
        if stamp is None or stamp == "":
            return Rejected("missing _timestamp")
        if type(stamp) is not str:
            return Rejected(_type_problem("_timestamp", STR, stamp))
        try:
            stamp, day = self.timestamps.parse(stamp)
        except ValueError:
            return Rejected(f"invalid _timestamp: {_show(stamp)}")
        for name in ("transaction_id", "customer_id"):
            value = get(name)
            if value is None or value == "":
                return Rejected(f"missing {name}", day)
        record: dict = {}
        absent = 0
        for name, allowed, kind, nullable in _CHECKS:
            value = get(name, _MISSING)
            if type(value) in allowed:
                record[name] = value
                continue
            # Rare cases: absent or null fields, integral floats, wrong types.
            if value is _MISSING or value is None:
                absent += value is _MISSING
                if nullable:
                    record[name] = None
                    continue
                return Rejected(f"missing {name}", day)
            if kind == INT and type(value) is float and value.is_integer():
                record[name] = int(value)
                continue
            return Rejected(_type_problem(name, kind, value), day)
        extra_fields = None
        if len(raw) > len(_CHECKS) - absent:
            extra = {key: value for key, value in raw.items() if key not in _KNOWN}
            self.unknown_fields.update(extra)
            extra_fields = orjson.dumps(extra, option=orjson.OPT_SORT_KEYS).decode()
        record_id = record["_record_id"]
        if record_id < 0:
            return Rejected(f"_record_id is negative: {record_id}", day)
        record["_timestamp"] = stamp
        parsed = TransactionRecord(**record)
        parsed.extra_fields = extra_fields
        return Parsed(parsed, day, record_id)
