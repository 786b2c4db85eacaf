"""simtom's daily volume model: the factors of known days, the noise, and the server's counts."""

from __future__ import annotations

import math
import statistics
from datetime import date, timedelta

import pytest
import requests

from simtom_local import SimtomServer
from simtom_local.volume import (
    day_count,
    event_factor,
    expected,
    factor,
    noise,
    noise_band,
)

WEEK = [date(2024, 11, 25) + timedelta(days=i) for i in range(7)]
# Measured on simtom itself: base_daily_volume 5000, seed 42, 2024-11-25..2024-12-01.
SIMTOM_COUNTS = [5169, 5442, 7133, 989, 10182, 6010, 6176]


def test_the_local_server_streams_simtoms_counts_for_the_measured_week():
    body = {"start_date": "2024-11-25", "end_date": "2024-12-01", "base_daily_volume": 5000,
            "seed": 42}  # fmt: skip
    counts = dict.fromkeys((d.isoformat() for d in WEEK), 0)
    with (
        SimtomServer(pace_seconds=0.0) as server,
        requests.post(f"{server.url}/stream/bnpl", json=body, stream=True, timeout=60) as answer,
    ):
        assert answer.status_code == 200
        for line in answer.iter_lines():
            if line:
                at = line.index(b'"_timestamp": "') + 15
                counts[line[at : at + 10].decode()] += 1
    lows, highs = noise_band(3)
    for day, ours, theirs in zip(WEEK, counts.values(), SIMTOM_COUNTS, strict=True):
        assert lows <= ours / expected(day, 5000) <= highs, day
        assert lows <= theirs / expected(day, 5000) <= highs, day
    assert list(counts.values()) == SIMTOM_COUNTS  # the same draw, not only the same model
    assert sum(counts.values()) == pytest.approx(41_101, rel=0.03)


@pytest.mark.parametrize(
    ("day", "event"),
    [
        (date(2024, 11, 28), 0.2),  # Thanksgiving (inside black_friday_week: damping wins)
        (date(2024, 11, 29), 1.6),  # Black Friday (over black_friday_week's 1.3)
        (date(2024, 12, 2), 1.4),  # Cyber Monday (over christmas_shopping's 1.2)
        (date(2024, 11, 27), 1.3),  # the Wednesday before Thanksgiving opens black_friday_week
        (date(2024, 12, 25), 0.1),  # Christmas, inside year_end_holidays (0.5)
        (date(2024, 12, 28), 0.5),  # year_end_holidays damps post_christmas's 1.3
        (date(2024, 12, 31), 0.4),  # New Year's Eve
        (date(2025, 1, 1), 0.2),  # New Year's Day
        # Periods come from the day's own year: Jan 2-5 are in no period of the December before.
        (date(2025, 1, 2), 1.0),
        (date(2025, 1, 5), 1.0),
        (date(2024, 5, 13), 1.2),  # mothers_day as simtom computes it: 2nd Monday of May
        (date(2024, 5, 12), 1.15),  # the real Mother's Day: only inside mothers_day_week
        (date(2024, 6, 17), 1.1),  # fathers_day: 3rd Monday of June
        (date(2024, 9, 2), 1.2),  # Labor Day (1.05) inside back_to_school (1.2): top boost
        (date(2024, 7, 4), 0.8),  # Independence Day; summer_holidays is 1.0
        (date(2024, 2, 14), 1.15),  # Valentine's Day over valentines_week's 1.1
        (date(2024, 3, 12), 1.0),  # an ordinary day
    ],
)
def test_event_factor_of_known_days(day, event):
    assert event_factor(day) == event


def test_factor_multiplies_weekday_week_of_month_month_and_event():
    assert factor(date(2024, 11, 29)) == pytest.approx(1.25 * 0.90 * 1.10 * 1.6)  # Black Friday
    assert factor(date(2024, 11, 28)) == pytest.approx(1.10 * 0.90 * 1.10 * 0.2)  # Thanksgiving
    assert factor(date(2025, 1, 3)) == pytest.approx(1.25 * 1.15 * 0.75)  # a plain Friday
    assert factor(date(2024, 3, 17)) == pytest.approx(0.70 * 1.10 * 0.95)  # a Sunday
    assert expected(date(2024, 3, 11), 2000) == pytest.approx(2000 * 1.15 * 0.95 * 0.95)


def test_noise_is_lognormal_with_sigma_one_tenth():
    days = [date(2020, 1, 1) + timedelta(days=i) for i in range(4000)]
    logs = [math.log(noise(42, day)) for day in days]
    assert statistics.fmean(logs) == pytest.approx(0.0, abs=0.006)
    assert statistics.stdev(logs) == pytest.approx(0.1, rel=0.04)
    low, high = noise_band(3)
    outside = sum(not low <= math.exp(x) <= high for x in logs)
    assert outside < 0.01 * len(days)
    assert (round(low, 3), round(high, 3)) == (0.741, 1.350)


def test_noise_is_a_pure_function_of_seed_plus_day():
    day = date(2024, 11, 25)
    assert noise(42, day) == noise(42, day)
    assert noise(42, day) != noise(43, day)
    # simtom seeds with seed + ordinal, so the next seed's draw is the previous day's.
    assert noise(43, day) == noise(42, day + timedelta(days=1))
    # A request without a seed: its own token, the same distribution.
    tokens = [noise(f"nonce:{i}", day) for i in range(2000)]
    assert statistics.stdev(math.log(x) for x in tokens) == pytest.approx(0.1, rel=0.06)


def test_day_count_is_at_least_one():
    assert day_count(42, date(2024, 12, 25), 1) == 1
    assert day_count(42, date(2024, 12, 25), 0) == 1
