"""Tap settings: the JSON schema shown by --about, and strict parsing into `Settings`.

Every invalid value fails with one line that names the setting and says what was
expected, before any request is made.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import typing as t
from dataclasses import dataclass
from urllib.parse import urlparse

from singer_sdk import typing as th

from tap_simtom_bnpl.volume_profile import VolumeProfile, VolumeRange

PUBLIC_API_URL = "https://simtom-production.up.railway.app"
DEFAULT_SEED = 42
DEFAULT_BASE_DAILY_VOLUME = 5000
DEFAULT_WINDOW_DAYS = 7
MAX_WINDOW_DAYS = 365
DEFAULT_REQUEST_TIMEOUT = 300.0
DEFAULT_MAX_RETRIES = 8
DEFAULT_BACKOFF_SECONDS = 1.0
DEFAULT_BACKOFF_MAX_SECONDS = 60.0
DEFAULT_API_KEY_HEADER = "X-API-Key"
DEFAULT_MAX_REJECTED_SHARE = 0.01


class SettingsError(ValueError):
    """An invalid setting; the message is one line naming the setting."""


def _range_object(name: str, low: int, high: int, what: str) -> th.Property:
    return th.Property(
        name,
        th.ObjectType(
            th.Property("min", th.IntegerType, default=low, description=f"Lowest {what} volume."),
            th.Property("max", th.IntegerType, default=high, description=f"Highest {what} volume."),
        ),
        description=f"Daily volume range of a {what} (default {low:,}-{high:,}).",
    )


CONFIG_SCHEMA: dict = th.PropertiesList(
    th.Property(
        "api_url",
        th.StringType,
        default=PUBLIC_API_URL,
        description="Base URL of the simtom API (the public instance by default; a local "
        "`simtom-local` server is e.g. http://127.0.0.1:8765).",
    ),
    th.Property(
        "start_date",
        th.DateType,
        required=True,
        description="First day to extract (YYYY-MM-DD, inclusive; a date-time is cut to its "
        "UTC date).",
    ),
    th.Property(
        "end_date",
        th.DateType,
        description="Last day to extract (YYYY-MM-DD, inclusive). Default: yesterday (UTC).",
    ),
    th.Property(
        "base_daily_volume",
        th.IntegerType,
        default=DEFAULT_BASE_DAILY_VOLUME,
        description="Expected transactions on an ordinary day (simtom scales it by its own "
        "calendar factors). 5000 is about 1.8M transactions a year.",
    ),
    th.Property(
        "seed",
        th.IntegerType,
        default=DEFAULT_SEED,
        description="simtom random seed. With a seed a day's record count is fixed, so "
        "re-extracting a day yields the same transaction keys. Set to null for random data.",
    ),
    th.Property(
        "window_days",
        th.IntegerType,
        default=DEFAULT_WINDOW_DAYS,
        description="Days per API request (1-365). Windows are aligned to a fixed anchor "
        "(Monday 1970-01-05) so a resumed run asks for the same window.",
    ),
    th.Property(
        "max_parallel_requests",
        th.IntegerType,
        default=1,
        description="Windows requested at the same time (>= 1). Records are still emitted in "
        "date order; memory grows with the windows in flight.",
    ),
    th.Property(
        "request_timeout",
        th.NumberType,
        default=DEFAULT_REQUEST_TIMEOUT,
        description="Seconds to wait for the connection and between bytes of a response "
        "(simtom pauses ~1 s between days and answers nothing else while it generates one).",
    ),
    th.Property(
        "max_retries",
        th.IntegerType,
        default=DEFAULT_MAX_RETRIES,
        description="Consecutive failed attempts tolerated per window (connection errors, "
        "timeouts, 429, 5xx, broken bodies) before the run fails. Progress resets the count.",
    ),
    th.Property(
        "retry_backoff_seconds",
        th.NumberType,
        default=DEFAULT_BACKOFF_SECONDS,
        description="Base of the exponential backoff (with jitter) between retries.",
    ),
    th.Property(
        "retry_backoff_max_seconds",
        th.NumberType,
        default=DEFAULT_BACKOFF_MAX_SECONDS,
        description="Upper bound of one backoff wait (a Retry-After header is honoured as sent).",
    ),
    th.Property(
        "max_rejected_share",
        # Text too: Meltano 4.4.1 cannot write a `decimal` setting read from an environment
        # variable into the tap's config, so the project declares it as a string.
        th.CustomType({"type": ["number", "string"]}),
        default=DEFAULT_MAX_REJECTED_SHARE,
        description="Largest share of a day's lines that may be quarantined (a number from 0 "
        "to 1, or its text). A day above it, or a day that yields no transaction although "
        "simtom sent lines for it, fails the run with one line naming the day, the share and "
        "the most common reason; the day is not bookmarked (its quarantine rows are still "
        "emitted), so a rerun extracts it again.",
    ),
    th.Property(
        "api_key",
        th.StringType,
        secret=True,
        description="Optional API key, sent in the `api_key_header` header when set. Never logged.",
    ),
    th.Property(
        "api_key_header",
        th.StringType,
        default=DEFAULT_API_KEY_HEADER,
        description="Header that carries `api_key`.",
    ),
    th.Property(
        "volume_profile",
        th.ObjectType(
            _range_object("weekday", 5000, 7000, "weekday"),
            _range_object("weekend", 3000, 4000, "weekend day"),
            _range_object("holiday", 8000, 10000, "holiday"),
            th.Property(
                "country",
                th.StringType,
                default="US",
                description="Holiday calendar country (ISO 3166 code known to `holidays`).",
            ),
            th.Property(
                "subdivision",
                th.StringType,
                description="Optional holiday calendar subdivision (e.g. a state code).",
            ),
        ),
        description="Optional day-type volumes (the seed design: weekday 5,000-7,000, weekend "
        "3,000-4,000, holiday 8,000-10,000). When set (`{}` takes the defaults), each day is "
        "requested alone with a volume drawn deterministically from its day type's range, and "
        "`base_daily_volume`/`window_days` are not used.",
    ),
).to_dict()


@dataclass(frozen=True)
class Settings:
    """Validated tap settings."""

    api_url: str
    start_date: dt.date
    end_date: dt.date
    base_daily_volume: int
    seed: int | None
    window_days: int
    max_parallel_requests: int
    request_timeout: float
    max_retries: int
    retry_backoff_seconds: float
    retry_backoff_max_seconds: float
    max_rejected_share: float
    api_key: str | None
    api_key_header: str
    volume_profile: VolumeProfile | None

    @property
    def display_url(self) -> str:
        """`api_url` without any user:password part, for logs and the extraction log."""
        parsed = urlparse(self.api_url)
        if "@" not in parsed.netloc:
            return self.api_url
        return parsed._replace(netloc=parsed.netloc.rsplit("@", 1)[1]).geturl()

    @property
    def effective_window_days(self) -> int:
        """Days per request: a volume profile needs one request per day."""
        return 1 if self.volume_profile is not None else self.window_days


def parse_date(name: str, value: t.Any) -> dt.date:
    """Parse a YYYY-MM-DD date (or the UTC date of an ISO date-time) for setting `name`."""
    if isinstance(value, dt.datetime):
        return _utc_date(value)
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str) or not value.strip():
        raise SettingsError(f"{name}: expected a date YYYY-MM-DD, got {value!r}")
    text = value.strip()
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text)
        return _utc_date(dt.datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        raise SettingsError(f"{name}: expected a date YYYY-MM-DD, got {value!r}") from None


def _utc_date(value: dt.datetime) -> dt.date:
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc)
    return value.date()


def _int(config: t.Mapping[str, t.Any], name: str, default: int | None, low: int, high: int | None):
    value = config.get(name, default)
    bounds = f"from {low} to {high}" if high is not None else f">= {low}"
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if isinstance(value, (float, decimal.Decimal)) and value == int(value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise SettingsError(f"{name}: expected an integer {bounds}, got {value!r}")
    if value < low or (high is not None and value > high):
        raise SettingsError(f"{name}: expected an integer {bounds}, got {value}")
    return value


def _positive_number(config: t.Mapping[str, t.Any], name: str, default: float) -> float:
    value = config.get(name, default)
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = float(value)
    # Config files are read with decimal floats by the SDK.
    if isinstance(value, decimal.Decimal) and value.is_finite():
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise SettingsError(f"{name}: expected a number > 0 (seconds), got {value!r}")
    return float(value)


def _share(config: t.Mapping[str, t.Any], name: str, default: float) -> float:
    value = config.get(name)
    if value is None:
        value = default
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = float(value)
    if isinstance(value, decimal.Decimal) and value.is_finite():
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise SettingsError(f"{name}: expected a number from 0 to 1 (a share), got {value!r}")
    return float(value)


def _api_url(value: t.Any) -> str:
    if not isinstance(value, str):
        raise SettingsError(f"api_url: expected an http(s) URL, got {value!r}")
    parsed = urlparse(value.strip())
    if parsed.scheme not in {"http", "https"} or not parsed.netloc:
        raise SettingsError(f"api_url: expected an http(s) URL, got {value!r}")
    return value.strip().rstrip("/")


def _volume_range(profile: t.Mapping[str, t.Any], key: str, default: VolumeRange) -> VolumeRange:
    raw = profile.get(key)
    if raw is None:
        return default
    name = f"volume_profile.{key}"
    if not isinstance(raw, t.Mapping):
        raise SettingsError(f"{name}: expected an object with min and max, got {raw!r}")
    try:
        low = _int(raw, "min", default.low, 1, None)
        high = _int(raw, "max", default.high, 1, None)
    except SettingsError as exc:
        raise SettingsError(f"{name}.{exc}") from None
    if high < low:
        raise SettingsError(f"{name}: max ({high}) must be >= min ({low})")
    return VolumeRange(low, high)


def _volume_profile(raw: t.Any) -> VolumeProfile | None:
    if raw is None:
        return None
    if not isinstance(raw, t.Mapping):
        raise SettingsError(
            f"volume_profile: expected an object (or {{}} for defaults), got {raw!r}"
        )
    unknown = sorted(set(raw) - {"weekday", "weekend", "holiday", "country", "subdivision"})
    if unknown:
        raise SettingsError(f"volume_profile: unknown key {unknown[0]!r}")
    defaults = VolumeProfile()
    ranges = {
        key: _volume_range(raw, key, getattr(defaults, key))
        for key in ("weekday", "weekend", "holiday")
    }
    country = raw.get("country") or defaults.country
    subdivision = raw.get("subdivision") or None
    profile = VolumeProfile(country=str(country), subdivision=subdivision, **ranges)
    problem = profile.calendar_problem()
    if problem:
        raise SettingsError(problem)
    return profile


def parse_settings(config: t.Mapping[str, t.Any], today: dt.date | None = None) -> Settings:
    """Validate `config` and return `Settings`; raise `SettingsError` on the first problem."""
    if config.get("start_date") in (None, ""):
        raise SettingsError("start_date: required, expected a date YYYY-MM-DD")
    start = parse_date("start_date", config["start_date"])
    today = today or dt.datetime.now(dt.timezone.utc).date()
    raw_end = config.get("end_date")
    end = parse_date("end_date", raw_end) if raw_end not in (None, "") else today - dt.timedelta(1)
    if end < start:
        origin = "" if raw_end not in (None, "") else " (default: yesterday UTC)"
        raise SettingsError(f"end_date: {end.isoformat()}{origin} is before start_date {start}")

    seed = config.get("seed", DEFAULT_SEED)
    if seed is not None:
        if isinstance(seed, str) and seed.strip().lstrip("-").isdigit():
            seed = int(seed.strip())
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise SettingsError(f"seed: expected an integer or null, got {seed!r}")

    api_key = config.get("api_key") or None
    if api_key is not None and not isinstance(api_key, str):
        raise SettingsError("api_key: expected a string")
    header = config.get("api_key_header") or DEFAULT_API_KEY_HEADER
    if not isinstance(header, str) or not header.replace("-", "").isalnum():
        raise SettingsError(f"api_key_header: expected an HTTP header name, got {header!r}")

    backoff = _positive_number(config, "retry_backoff_seconds", DEFAULT_BACKOFF_SECONDS)
    backoff_max = _positive_number(config, "retry_backoff_max_seconds", DEFAULT_BACKOFF_MAX_SECONDS)
    if backoff_max < backoff:
        raise SettingsError(
            f"retry_backoff_max_seconds: expected >= retry_backoff_seconds ({backoff}), "
            f"got {backoff_max}"
        )
    return Settings(
        api_url=_api_url(config.get("api_url") or PUBLIC_API_URL),
        start_date=start,
        end_date=end,
        base_daily_volume=_int(config, "base_daily_volume", DEFAULT_BASE_DAILY_VOLUME, 1, None),
        seed=seed,
        window_days=_int(config, "window_days", DEFAULT_WINDOW_DAYS, 1, MAX_WINDOW_DAYS),
        max_parallel_requests=_int(config, "max_parallel_requests", 1, 1, None),
        request_timeout=_positive_number(config, "request_timeout", DEFAULT_REQUEST_TIMEOUT),
        max_retries=_int(config, "max_retries", DEFAULT_MAX_RETRIES, 0, None),
        retry_backoff_seconds=backoff,
        retry_backoff_max_seconds=backoff_max,
        max_rejected_share=_share(config, "max_rejected_share", DEFAULT_MAX_REJECTED_SHARE),
        api_key=api_key,
        api_key_header=header,
        volume_profile=_volume_profile(config.get("volume_profile")),
    )
