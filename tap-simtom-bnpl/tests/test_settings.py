"""Settings: one line per invalid value, worded from the schema; defaults declared once."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tap_simtom_bnpl.settings import CONFIG_SCHEMA, SettingsError, parse_settings
from tap_simtom_bnpl.tap import TapSimtomBnpl

START = {"start_date": "2024-11-25"}
EXTRACTORS_YML = Path(__file__).parents[2] / "plugins" / "extractors.meltano.yml"
MELTANO_YML = Path(__file__).parents[2] / "meltano.yml"

INVALID = [
    ({**START, "window_days": 400}, "window_days: expected an integer from 1 to 365, got 400"),
    ({**START, "window_days": None}, "window_days: expected an integer from 1 to 365, got None"),
    ({**START, "base_daily_volume": -5}, "base_daily_volume: expected an integer >= 1, got -5"),
    ({**START, "max_retries": "3"}, "max_retries: expected an integer >= 0, got '3'"),
    ({**START, "request_timeout": 0}, "request_timeout: expected a number > 0, got 0"),
    ({**START, "seed": 1.5}, "seed: expected an integer or null, got 1.5"),
    ({"start_date": "2024-11-31"}, "start_date: expected a date YYYY-MM-DD, got '2024-11-31'"),
    ({"start_date": "2024-13-01"}, "start_date: expected a date YYYY-MM-DD, got '2024-13-01'"),
    (
        {"start_date": "2024-11-25T10:00:00Z"},
        "start_date: expected a date YYYY-MM-DD, got '2024-11-25T10:00:00Z'",
    ),
    ({}, "start_date: required, expected a date YYYY-MM-DD"),
    ({**START, "api_url": "ftp://x"}, "api_url: expected an http(s) URL, got 'ftp://x'"),
    (
        {**START, "volume_profile": {"weekend": {"min": 3000}}},
        "volume_profile.weekend.max: required, expected an integer >= 1",
    ),
    (
        {**START, "volume_profile": {"colour": "red"}},
        "volume_profile: unexpected field 'colour'; expected only weekday, weekend, holiday, "
        "country, subdivision",
    ),
    # Checks between settings, by hand.
    ({**START, "end_date": "2024-11-01"}, "end_date: 2024-11-01 is before start_date 2024-11-25"),
    (
        {**START, "retry_backoff_seconds": 5, "retry_backoff_max_seconds": 2},
        "retry_backoff_max_seconds: expected >= retry_backoff_seconds (5.0), got 2.0",
    ),
    (
        {**START, "volume_profile": {"weekend": {"min": 50, "max": 10}}},
        "volume_profile.weekend: max (10) must be >= min (50)",
    ),
]


@pytest.mark.parametrize(("config", "message"), INVALID, ids=[m for _, m in INVALID])
def test_an_invalid_setting_is_one_line_naming_it_and_what_was_expected(config, message):
    with pytest.raises(SettingsError) as failure:
        parse_settings(config, today=None)
    assert str(failure.value) == message


def test_the_tap_validates_its_config_with_the_schema_and_fills_in_its_defaults():
    with pytest.raises(SettingsError, match=r"^window_days: expected an integer from 1 to 365"):
        TapSimtomBnpl(config={**START, "window_days": 0}, parse_env_config=False)
    tap = TapSimtomBnpl(config={**START, "end_date": "2024-11-26"}, parse_env_config=False)
    assert tap.config["window_days"] == CONFIG_SCHEMA["properties"]["window_days"]["default"]
    assert tap.settings.window_days == 7 and tap.batch_target is None


def _equal(value: object, default: object) -> bool:
    if isinstance(default, (int, float)) and not isinstance(default, bool):
        try:
            return float(value) == default  # Meltano may hold a number as its text
        except (TypeError, ValueError):
            return False
    return value == default


def test_meltano_yml_declares_the_tap_settings_without_repeating_their_defaults():
    # The schema is the one place a default is declared: the plugin definition gives none,
    # and each environment sets only what differs from the tap's defaults.
    plugins = yaml.safe_load(EXTRACTORS_YML.read_text())["plugins"]["extractors"]
    (tap,) = [plugin for plugin in plugins if plugin["name"] == "tap-simtom-bnpl"]
    properties = dict(CONFIG_SCHEMA["properties"])
    TapSimtomBnpl.append_builtin_config({"properties": properties})
    declared = {setting["name"]: setting for setting in tap["settings"]}
    assert set(declared) <= set(properties), "the yml declares settings the tap does not know"
    assert [name for name, s in declared.items() if "value" in s] == []

    repeated = []
    for environment in yaml.safe_load(MELTANO_YML.read_text())["environments"]:
        for extractor in environment["config"]["plugins"].get("extractors", []):
            if extractor["name"] != "tap-simtom-bnpl":
                continue
            for name, value in extractor.get("config", {}).items():
                default = properties[name].get("default")
                if default is not None and _equal(value, default):
                    repeated.append(f"{environment['name']}: {name}")
    assert repeated == []
