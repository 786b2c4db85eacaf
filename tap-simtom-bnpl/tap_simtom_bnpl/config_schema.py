"""The tap's settings as a JSON schema (shown by --about, validated on start).

The schema says everything about a single setting: its type, range, format, default and
description. The Singer SDK's validator checks a config against it (config_validation.py)
and fills in its defaults. Those defaults are declared here only: Meltano's plugin
definition repeats none, environments set only what differs, bench/ reads them from here.
"""

from __future__ import annotations

from singer_sdk import typing as th

__all__ = ["CONFIG_SCHEMA"]


class Setting(th.Property):
    """A property that takes null only when declared `nullable=True`.

    The SDK makes every optional property nullable; here null means something only where
    it is said to (no seed, no end date), so `"window_days": null` is refused, not a crash.
    """

    def to_dict(self) -> dict:
        """The property's schema, without "null" in its type unless it is nullable."""
        schema = super().to_dict()
        if not self.nullable:
            for prop in schema.values():
                if isinstance(prop.get("type"), list) and "null" in prop["type"]:
                    prop["type"] = [kind for kind in prop["type"] if kind != "null"]
        return schema


def _range_object(name: str, low: int, high: int, what: str) -> Setting:
    return Setting(
        name,
        th.ObjectType(
            Setting(
                "min",
                th.IntegerType(minimum=1),
                required=True,
                description=f"Lowest {what} volume.",
            ),
            Setting(
                "max",
                th.IntegerType(minimum=1),
                required=True,
                description=f"Highest {what} volume.",
            ),
            additional_properties=False,
        ),
        default={"min": low, "max": high},
        description=f"Daily volume range of a {what} (min and max, >= 1).",
    )


CONFIG_SCHEMA: dict = th.PropertiesList(
    Setting(
        "api_url",
        th.StringType,
        default="https://simtom-production.up.railway.app",
        format="http-url",
        description="Base URL of the simtom API (the public instance by default; a local "
        "`simtom-local` server is e.g. http://127.0.0.1:8765).",
    ),
    Setting(
        "start_date",
        th.DateType,
        required=True,
        description="First day to extract (YYYY-MM-DD, inclusive).",
    ),
    Setting(
        "end_date",
        th.DateType,
        nullable=True,
        description="Last day to extract (YYYY-MM-DD, inclusive). Default: yesterday (UTC).",
    ),
    Setting(
        "base_daily_volume",
        th.IntegerType(minimum=1),
        default=5000,
        description="Expected transactions on an ordinary day (simtom scales it by its own "
        "calendar factors). 5000 is about 1.8M transactions a year.",
    ),
    Setting(
        "seed",
        th.IntegerType,
        default=42,
        nullable=True,
        description="simtom random seed. With a seed a day's record count is fixed, so "
        "re-extracting a day yields the same transaction keys. Set to null for random data.",
    ),
    Setting(
        "window_days",
        # The API takes at most 365 days per request.
        th.IntegerType(minimum=1, maximum=365),
        default=7,
        description="Days per API request. Windows are aligned to a fixed anchor "
        "(Monday 1970-01-05) so a resumed run asks for the same window.",
    ),
    Setting(
        "max_parallel_requests",
        th.IntegerType(minimum=1),
        default=1,
        description="Windows requested at the same time. Records are still emitted in "
        "date order; memory grows with the windows in flight.",
    ),
    Setting(
        "request_timeout",
        th.NumberType(exclusive_minimum=0),
        default=300.0,
        description="Seconds to wait for the connection and between bytes of a response "
        "(simtom pauses ~1 s between days and answers nothing else while it generates one).",
    ),
    Setting(
        "max_retries",
        th.IntegerType(minimum=0),
        default=8,
        description="Consecutive failed attempts tolerated per window (connection errors, "
        "timeouts, 429, 5xx, broken bodies) before the run fails. Progress resets the count.",
    ),
    Setting(
        "retry_backoff_seconds",
        th.NumberType(exclusive_minimum=0),
        default=1.0,
        description="Base of the exponential backoff (with jitter) between retries.",
    ),
    Setting(
        "retry_backoff_max_seconds",
        th.NumberType(exclusive_minimum=0),
        default=60.0,
        description="Upper bound of one backoff wait, at least retry_backoff_seconds (a "
        "Retry-After header is honoured as sent).",
    ),
    Setting(
        "max_rejected_share",
        # Text too: Meltano 4.4.1 cannot write a `decimal` setting read from an environment
        # variable into the tap's config, so the project declares it as a string. The
        # bounds hold for the number, the pattern for its text.
        th.CustomType(
            {
                "type": ["number", "string"],
                "minimum": 0,
                "maximum": 1,
                "pattern": r"^\s*(0(\.[0-9]*)?|1(\.0*)?|\.[0-9]+)\s*$",
            }
        ),
        default=0.01,
        description="Largest share of a day's lines that may be quarantined (a number from 0 "
        "to 1, or its text). A day above it, or a day that yields no transaction although "
        "simtom sent lines for it, fails the run with one line naming the day, the share and "
        "the most common reason; the day is not bookmarked (its quarantine rows are still "
        "emitted), so a rerun extracts it again.",
    ),
    Setting(
        "api_key",
        th.StringType,
        secret=True,
        nullable=True,
        description="Optional API key, sent in the `api_key_header` header when set. Never logged.",
    ),
    Setting(
        "api_key_header",
        th.StringType(pattern=r"^[A-Za-z0-9-]+$"),
        default="X-API-Key",
        description="Header that carries `api_key`.",
    ),
    Setting(
        "volume_profile",
        th.ObjectType(
            _range_object("weekday", 5000, 7000, "weekday"),
            _range_object("weekend", 3000, 4000, "weekend day"),
            _range_object("holiday", 8000, 10000, "holiday"),
            Setting(
                "country",
                th.StringType,
                default="US",
                description="Holiday calendar country (ISO 3166 code known to `holidays`).",
            ),
            Setting(
                "subdivision",
                th.StringType,
                nullable=True,
                description="Optional holiday calendar subdivision (e.g. a state code).",
            ),
            additional_properties=False,
        ),
        nullable=True,
        description="Optional day-type volumes (the seed design: weekday 5,000-7,000, weekend "
        "3,000-4,000, holiday 8,000-10,000). When set (`{}` takes the defaults), each day is "
        "requested alone with a volume drawn deterministically from its day type's range, and "
        "`base_daily_volume`/`window_days` are not used.",
    ),
    # The SDK's own batch_config setting, narrowed to what the tap writes: JSON-lines files
    # in a local directory.
    Setting(
        "batch_config",
        th.ObjectType(
            Setting(
                "encoding",
                th.ObjectType(
                    Setting(
                        "format",
                        th.StringType,
                        required=True,
                        allowed_values=["jsonl"],
                        description="File format: JSON lines, one record a line.",
                    ),
                    Setting(
                        "compression",
                        th.StringType,
                        default="none",
                        allowed_values=["none", "gzip"],
                        description="Compression of each batch file.",
                    ),
                    additional_properties=False,
                ),
                required=True,
                description="Format and compression of the batch files.",
            ),
            Setting(
                "storage",
                th.ObjectType(
                    Setting(
                        "root",
                        th.StringType,
                        required=True,
                        format="local-directory",
                        description="Directory of the batch files (file:///abs/dir).",
                    ),
                    Setting(
                        "prefix",
                        th.StringType,
                        default="",
                        format="relative-prefix",
                        description="Start of each file name (may hold subdirectories).",
                    ),
                    additional_properties=False,
                ),
                required=True,
                description="Where the batch files are written.",
            ),
            additional_properties=False,
        ),
        nullable=True,
        description="BATCH mode: each complete day of a stream as one JSON-lines file, "
        "announced in a BATCH message instead of RECORD messages. Unset: RECORD mode.",
    ),
).to_dict()
