"""The executable: --about lists every setting, --discover the four streams with keys."""

from __future__ import annotations

import json

from harness import cli, simtom_config

SETTINGS = {
    "api_url",
    "start_date",
    "end_date",
    "base_daily_volume",
    "seed",
    "window_days",
    "max_parallel_requests",
    "request_timeout",
    "max_retries",
    "api_key",
    "volume_profile",
    "max_rejected_share",
}


def test_about_lists_every_setting_with_a_description(tmp_path):
    result = cli(tmp_path, "--about", "--format=json")
    assert result.returncode == 0
    about = json.loads(result.stdout)
    properties = about["settings"]["properties"]
    assert set(properties) >= SETTINGS
    assert about["settings"]["required"] == ["start_date"]
    ours = SETTINGS | {"retry_backoff_seconds", "retry_backoff_max_seconds", "api_key_header"}
    assert all(properties[name].get("description") for name in ours)
    assert properties["api_key"].get("secret") is True
    assert properties["base_daily_volume"]["default"] == 5000
    assert properties["window_days"]["default"] == 7
    assert properties["max_parallel_requests"]["default"] == 1
    assert properties["max_rejected_share"]["default"] == 0.01
    assert isinstance(properties["seed"]["default"], int)
    assert set(properties["volume_profile"]["properties"]) == {
        "weekday",
        "weekend",
        "holiday",
        "country",
        "subdivision",
    }
    assert {"about", "catalog", "discover", "state", "stream-maps", "test"} <= set(
        about["capabilities"]
    )


def test_discover_lists_the_four_streams_with_their_keys(tmp_path):
    # Discovery needs no valid settings and makes no request.
    result = cli(tmp_path, "--discover", config={})
    assert result.returncode == 0, result.stderr
    catalog = json.loads(result.stdout)
    streams = {entry["tap_stream_id"]: entry for entry in catalog["streams"]}
    assert set(streams) == {"transactions", "customers", "extraction_log", "quarantine"}
    keys = {name: entry["key_properties"] for name, entry in streams.items()}
    assert keys == {
        "transactions": ["transaction_key"],
        "customers": ["customer_profile_key"],
        "extraction_log": ["extraction_key"],
        "quarantine": ["quarantine_key"],
    }
    transactions = streams["transactions"]["schema"]["properties"]
    assert transactions["_timestamp"]["format"] == "date-time"
    assert transactions["credit_utilization"]["type"] == ["number", "null"]
    assert transactions["days_to_first_missed_payment"]["type"] == ["integer", "null"]
    assert transactions["will_default"]["type"] == ["boolean"]
    assert transactions["transaction_date"]["format"] == "date"


def test_sync_writes_singer_messages_and_a_final_state(simtom, tmp_path):
    result = cli(tmp_path, config=simtom_config(simtom, end_date="2024-11-26"))
    assert result.returncode == 0, result.stderr
    output = result.output()
    assert output.final_state["bookmarks"]["transactions"]["replication_key_value"] == "2024-11-26"
    assert "2024-11-25:" in result.stderr and "records/s" in result.stderr
    assert "METRIC" in result.stderr


def test_test_flag_syncs_one_day(simtom, tmp_path):
    result = cli(tmp_path, "--test", config=simtom_config(simtom))
    assert result.returncode == 0, result.stderr
    days = {r["transaction_date"] for r in result.output().records("transactions")}
    assert days == {"2024-11-25"}
