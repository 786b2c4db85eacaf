"""Each day's expected count and limits, from simtom's daily volume model."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pytest
from bnpl_quality.config import ConfigError, GateConfig
from bnpl_quality.volume import DEFAULT_HIGH_SLACK, DEFAULT_LOW_SLACK, day_expectations
from simtom_local.volume import day_count, expected

WEEK = [date(2024, 11, 25) + timedelta(days=i) for i in range(7)]


def test_limits_are_simtoms_noise_at_3_and_5_sigma():
    day = date(2024, 11, 25)
    e = day_expectations({day: 5000})[day]
    mean = expected(day, 5000)
    assert e.expected == pytest.approx(mean, abs=0.05)
    # sigma 0.1: 3 sigma is exp(+-0.3); the failing limits are the 5-sigma ones, rounded.
    assert (e.warn_low, e.warn_high) == (int(mean * math.exp(-0.3)), int(mean * math.exp(0.3)))
    assert (e.fail_low, e.fail_high) == (int(mean * 0.61), int(mean * 1.65))
    assert (DEFAULT_LOW_SLACK, DEFAULT_HIGH_SLACK) == (0.61, 1.65)


def test_limits_follow_each_days_own_calendar_and_volume():
    days = day_expectations({d: 5000 for d in WEEK} | {date(2024, 12, 2): 2500})
    thanksgiving, black_friday = days[date(2024, 11, 28)], days[date(2024, 11, 29)]
    # The holiday's whole band lies far below the next day's: one band per day, not per type.
    assert thanksgiving.fail_high < black_friday.fail_low
    assert days[date(2024, 12, 2)].expected == pytest.approx(expected(date(2024, 12, 2), 2500))


def test_simtoms_own_counts_pass_where_a_half_day_fails():
    # Counts as measured on simtom (base 5000, seed 42) sit inside the warning band.
    measured = [5169, 5442, 7133, 989, 10182, 6010, 6176]
    days = day_expectations({d: 5000 for d in WEEK})
    for day, count in zip(WEEK, measured, strict=True):
        e = days[day]
        assert e.warn_low <= count <= e.warn_high
        assert not e.fail_low <= count // 2 <= e.fail_high


def test_tiny_volumes_keep_the_floor_of_one():
    day = date(2024, 12, 25)  # factor about 0.12
    e = day_expectations({day: 3})[day]
    assert e.fail_low == e.warn_low == 1
    assert e.fail_low <= day_count(42, day, 3) <= e.fail_high


def test_days_without_a_volume_get_no_limits():
    e = day_expectations({date(2024, 11, 25): None})[date(2024, 11, 25)]
    assert e.expected is None and e.fail_low is None and e.day_type == "weekday"


def test_tighter_fail_limits_pull_the_warning_band_in():
    day = date(2024, 11, 25)
    e = day_expectations({day: 5000}, low_slack=0.9, high_slack=1.1)[day]
    assert (e.warn_low, e.warn_high) == (e.fail_low, e.fail_high)


def test_bad_band_slack_is_a_config_error():
    with pytest.raises(ConfigError, match="band_low_slack"):
        GateConfig(band_low_slack=1.5)
