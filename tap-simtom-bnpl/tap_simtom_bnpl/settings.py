"""`Settings`: a config checked against the schema, then against itself.

A single setting is checked by the SDK's validator against CONFIG_SCHEMA
(config_schema.py, config_validation.py); only what relates two settings, or needs the
calendar, is checked here. Every invalid value fails with one line that names the setting
and says what was expected, before any request.
"""

from __future__ import annotations

import copy
import datetime as dt
import typing as t
from dataclasses import dataclass
from urllib.parse import urlparse

from tap_simtom_bnpl.config_schema import CONFIG_SCHEMA
from tap_simtom_bnpl.config_validation import SettingsError, validate_config
from tap_simtom_bnpl.volume_profile import VolumeProfile, VolumeRange

__all__ = ["CONFIG_SCHEMA", "Settings", "SettingsError", "parse_settings", "settings_from_config"]


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


def _utc_yesterday() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)


def _volume_range(name: str, raw: t.Mapping[str, int]) -> VolumeRange:
    if raw["max"] < raw["min"]:
        raise SettingsError(f"{name}: max ({raw['max']}) must be >= min ({raw['min']})")
    return VolumeRange(raw["min"], raw["max"])


def _volume_profile(raw: t.Mapping[str, t.Any] | None) -> VolumeProfile | None:
    if raw is None:
        return None
    profile = VolumeProfile(
        **{
            kind: _volume_range(f"volume_profile.{kind}", raw[kind]) for kind in VolumeProfile.KINDS
        },
        country=raw["country"],
        subdivision=raw.get("subdivision") or None,
    )
    problem = profile.calendar_problem()
    if problem:
        raise SettingsError(problem)
    return profile


def settings_from_config(config: t.Mapping[str, t.Any], today: dt.date | None = None) -> Settings:
    """`Settings` from a config the schema validated (defaults filled in), after the checks
    that relate settings to each other; raise `SettingsError` on the first problem."""
    start = dt.date.fromisoformat(config["start_date"])
    if config.get("end_date") is not None:
        end, origin = dt.date.fromisoformat(config["end_date"]), ""
    else:
        yesterday = (today - dt.timedelta(days=1)) if today else _utc_yesterday()
        end, origin = yesterday, " (default: yesterday UTC)"
    if end < start:
        raise SettingsError(f"end_date: {end.isoformat()}{origin} is before start_date {start}")
    backoff = float(config["retry_backoff_seconds"])
    backoff_max = float(config["retry_backoff_max_seconds"])
    if backoff_max < backoff:
        raise SettingsError(
            f"retry_backoff_max_seconds: expected >= retry_backoff_seconds ({backoff}), "
            f"got {backoff_max}"
        )
    return Settings(
        api_url=config["api_url"].rstrip("/"),
        start_date=start,
        end_date=end,
        base_daily_volume=config["base_daily_volume"],
        seed=config["seed"],
        window_days=config["window_days"],
        max_parallel_requests=config["max_parallel_requests"],
        request_timeout=float(config["request_timeout"]),
        max_retries=config["max_retries"],
        retry_backoff_seconds=backoff,
        retry_backoff_max_seconds=backoff_max,
        max_rejected_share=float(config["max_rejected_share"]),
        api_key=config.get("api_key") or None,
        api_key_header=config["api_key_header"],
        volume_profile=_volume_profile(config.get("volume_profile")),
    )


def parse_settings(config: t.Mapping[str, t.Any], today: dt.date | None = None) -> Settings:
    """Validate a copy of `config` against CONFIG_SCHEMA and return its `Settings`."""
    validated = copy.deepcopy(dict(config))
    validate_config(CONFIG_SCHEMA, validated)
    return settings_from_config(validated, today)
