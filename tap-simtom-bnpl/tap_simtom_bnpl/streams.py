"""The four streams and their schemas.

All four are fed by the same simtom responses, so the tap syncs them together
(`TapSimtomBnpl.sync_all`); `get_records` runs the same day driver for one stream when a
stream is used on its own.
"""

from __future__ import annotations

import typing as t

from singer_sdk import Stream
from singer_sdk import typing as th
from singer_sdk.helpers.conform import TypeConformanceLevel

from tap_simtom_bnpl.records import BOOL, INT, NUM, RECORD_FIELDS

if t.TYPE_CHECKING:
    from collections.abc import Iterable

    from singer_sdk.helpers.types import Context

    from tap_simtom_bnpl.response import DayBatch

_KINDS = {"string": th.StringType, INT: th.IntegerType, NUM: th.NumberType, BOOL: th.BooleanType}

_FIELD_NOTES = {
    "transaction_id": "simtom id, `txn_` + _record_id: restarts in every response.",
    "customer_id": "simtom customer id, numbered per response (see customer_key).",
    "amount": "Purchase amount (USD), equals product_price.",
    "credit_utilization": "Only for the credit_stretched risk scenario.",
    "will_default": "Outcome label known only in hindsight (never a feature).",
    "days_to_first_missed_payment": "Outcome label; null unless will_default.",
    "customer_tenure_days": "Computed by simtom from its clock at request time.",
    "_timestamp": "Transaction time (simtom sends zone-less UTC; emitted with +00:00).",
    "_record_id": "0-based position of the record in its response.",
}


def _simtom_property(name: str, kind: str, nullable: bool) -> th.Property:
    jsonschema_type = th.DateTimeType if name == "_timestamp" else _KINDS[kind]
    return th.Property(
        name,
        jsonschema_type,
        required=not nullable,
        description=_FIELD_NOTES.get(name, f"simtom field `{name}`."),
    )


def _required(name: str, kind: type[th.JSONTypeHelper], description: str) -> th.Property:
    return th.Property(name, kind, required=True, description=description)


_RUN_ID = _required("extraction_run_id", th.UUIDType, "Id of the tap run that emitted this row.")
_REQUESTED_AT = _required(
    "requested_at", th.DateTimeType, "When the HTTP request that produced this row was sent."
)
_WINDOW = (
    _required("window_start", th.DateType, "First day of the request window."),
    _required("window_end", th.DateType, "Last day of the request window."),
)

TRANSACTIONS_SCHEMA = th.PropertiesList(
    _required(
        "transaction_key",
        th.StringType,
        "YYYYMMDD-NNNNNN: day + 0-based ordinal within the day; stable across re-extraction.",
    ),
    _required("transaction_date", th.DateType, "UTC date of _timestamp."),
    _required("customer_key", th.StringType, "Globally unique customer key (customers stream)."),
    _required(
        "customer_profile_key",
        th.StringType,
        "Key of the customer's profile as of this transaction (customers stream).",
    ),
    *(_simtom_property(name, kind, nullable) for name, kind, nullable in RECORD_FIELDS),
    th.Property(
        "extra_fields",
        th.StringType,
        description="JSON object of the fields simtom sent that the tap does not know; "
        "null when none.",
    ),
    _RUN_ID,
    _REQUESTED_AT,
    *_WINDOW,
).to_dict()

CUSTOMERS_SCHEMA = th.PropertiesList(
    _required(
        "customer_profile_key",
        th.StringType,
        "sha256 of customer_key + profile attributes: a new key when simtom re-draws the customer.",
    ),
    _required(
        "customer_key",
        th.StringType,
        "cust_ + sha256 of the request body and simtom's customer_id.",
    ),
    _required("customer_id", th.StringType, "simtom's customer id (meaningful per response)."),
    _required("customer_age_bracket", th.StringType, "Age bracket."),
    _required("customer_tenure_days", th.IntegerType, "Tenure at request time."),
    _required("customer_income_bracket", th.StringType, "Income bracket."),
    _required("customer_credit_score_range", th.StringType, "Credit score range."),
    _required("customer_verification_level", th.StringType, "Identity verification level."),
    _required("customer_address_stability", th.StringType, "Address stability."),
    _required("customer_state", th.StringType, "US state code."),
    _required(
        "first_seen_at",
        th.DateTimeType,
        "_timestamp of the profile's first transaction in the response.",
    ),
    _required("first_seen_date", th.DateType, "UTC date of first_seen_at."),
    _REQUESTED_AT,
    _RUN_ID,
).to_dict()

EXTRACTION_LOG_SCHEMA = th.PropertiesList(
    _required("extraction_key", th.StringType, "<run id>:<day>."),
    _RUN_ID,
    _required("extraction_date", th.DateType, "The extracted day."),
    *_WINDOW,
    _required("request_start_date", th.DateType, "start_date of the request that completed it."),
    _required("request_end_date", th.DateType, "end_date of the request that completed it."),
    _required("records_received", th.IntegerType, "Lines received for the day."),
    _required("records_emitted", th.IntegerType, "Valid transactions of the day."),
    _required("records_quarantined", th.IntegerType, "Lines of the day sent to quarantine."),
    _required("attempts", th.IntegerType, "HTTP attempts for the window until the day was done."),
    _REQUESTED_AT,
    _required("started_at", th.DateTimeType, "When reading the day began."),
    _required("finished_at", th.DateTimeType, "When the day was complete."),
    _required("duration_seconds", th.NumberType, "finished_at - started_at."),
    _required("api_url", th.StringType, "simtom base URL."),
    th.Property("seed", th.IntegerType, description="simtom seed (null: random)."),
    _required("base_daily_volume", th.IntegerType, "Volume requested for the day."),
    th.Property(
        "day_type",
        th.StringType,
        description="weekday/weekend/holiday under volume_profile; null otherwise.",
    ),
).to_dict()

QUARANTINE_SCHEMA = th.PropertiesList(
    _required("quarantine_key", th.StringType, "<run id>:<window start>:<attempt>:<line>."),
    _RUN_ID,
    th.Property("extraction_date", th.DateType, description="Day the line belongs to."),
    *_WINDOW,
    _required("line_number", th.IntegerType, "1-based line number in the response body."),
    _required("reason", th.StringType, "Why the line was quarantined (one line)."),
    _required("raw_line", th.StringType, "The line as received."),
    _required("quarantined_at", th.DateTimeType, "When it was quarantined."),
).to_dict()


class SimtomStream(Stream):
    """A stream of the simtom tap; records come from the shared day driver."""

    # Records are typed while parsing; re-conforming each one would only cost time.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    is_sorted = False
    _deselected: tuple[str, ...] | None = None

    @staticmethod
    def day_records(batch: DayBatch) -> list:
        """This stream's part of one complete day."""
        raise NotImplementedError

    def deselected_fields(self) -> tuple[str, ...]:
        """Fields the catalog deselects, worked out once per run."""
        # The SDK walks the selection mask for every field of every record (about 100 us a
        # record here, more than parsing it).
        if self._deselected is None:
            mask = self.mask
            self._deselected = tuple(
                name for name in self.schema["properties"] if not mask[("properties", name)]
            )
        return self._deselected

    def get_records(self, context: Context | None) -> Iterable[dict]:
        """This stream's records, from a run of the day driver over the configured range."""
        yield from self._tap.iter_stream_records(self.name)


class TransactionsStream(SimtomStream):
    """Every simtom record with stable keys."""

    name = "transactions"
    replication_key = "transaction_date"
    primary_keys = ("transaction_key",)
    schema = TRANSACTIONS_SCHEMA

    @staticmethod
    def day_records(batch: DayBatch) -> list:
        """The day's transactions."""
        return batch.transactions


class CustomersStream(SimtomStream):
    """One record per customer profile, before any transaction that references it."""

    name = "customers"
    replication_key = "first_seen_date"
    primary_keys = ("customer_profile_key",)
    schema = CUSTOMERS_SCHEMA

    @staticmethod
    def day_records(batch: DayBatch) -> list:
        """The day's customers."""
        return batch.customers


class ExtractionLogStream(SimtomStream):
    """One row per extracted day, for reconciliation."""

    name = "extraction_log"
    replication_key = "extraction_date"
    primary_keys = ("extraction_key",)
    schema = EXTRACTION_LOG_SCHEMA

    @staticmethod
    def day_records(batch: DayBatch) -> list:
        """The day's extraction log row."""
        return [batch.log]


class QuarantineStream(SimtomStream):
    """Lines that could not become records, verbatim with the reason."""

    name = "quarantine"
    replication_key = "extraction_date"
    primary_keys = ("quarantine_key",)
    schema = QUARANTINE_SCHEMA

    @staticmethod
    def day_records(batch: DayBatch) -> list:
        """The day's quarantine."""
        return batch.quarantine


STREAM_TYPES: tuple[type[SimtomStream], ...] = (
    TransactionsStream,
    CustomersStream,
    ExtractionLogStream,
    QuarantineStream,
)
# Order of a day's records on the output: a customer profile precedes every transaction
# that references it; the extraction log row, which counts the others, comes last.
EMIT_ORDER = ("customers", "transactions", "quarantine", "extraction_log")
REPLICATION_KEYS: dict[str, str] = {stream.name: stream.replication_key for stream in STREAM_TYPES}
