"""Day types and count bands."""

from __future__ import annotations

from datetime import date

import pytest
from bnpl_quality.calendar import calendar_factor, day_type, event_factor, expected_bands
from bnpl_quality.config import ConfigError


@pytest.mark.parametrize(
    ("day", "kind"),
    [
        (date(2024, 11, 28), "holiday"),  # Thanksgiving
        (date(2024, 12, 25), "holiday"),
        (date(2024, 11, 30), "weekend"),
        (date(2024, 11, 29), "weekday"),  # Black Friday is no public holiday
        (date(2025, 7, 4), "holiday"),
    ],
)
def test_day_type_follows_the_holiday_calendar(day, kind):
    assert day_type(day) == kind


def test_day_type_rejects_unknown_country():
    with pytest.raises(ValueError, match="holiday_country"):
        day_type(date(2024, 1, 1), "XX")


def test_events_documented_in_the_contract():
    assert event_factor(date(2024, 11, 28)) == 0.2  # Thanksgiving
    assert event_factor(date(2024, 11, 29)) == 1.6  # Black Friday
    assert event_factor(date(2024, 12, 25)) == 0.1  # Christmas
    assert event_factor(date(2024, 3, 12)) == 1.0
    assert calendar_factor(date(2024, 11, 29)) > 2 * calendar_factor(date(2024, 11, 28))


def test_bands_per_day_type_scale_with_volume_and_skip_unknown_volume():
    week = {date(2024, 11, 25 + i): 1000 for i in range(6)} | {date(2024, 12, 1): None}
    bands = expected_bands(week)
    assert bands[date(2024, 11, 28)].day_type == "holiday"
    holiday = bands[date(2024, 11, 28)].band
    weekday = bands[date(2024, 11, 25)].band
    assert holiday.high < weekday.low  # Thanksgiving is far quieter than any other weekday
    assert weekday is bands[date(2024, 11, 29)].band  # one band per day type
    assert bands[date(2024, 12, 1)].band is None
    doubled = expected_bands({d: v and 2 * v for d, v in week.items()})
    assert doubled[date(2024, 11, 25)].band.high == pytest.approx(2 * weekday.high, abs=1)


def test_band_holds_an_ordinary_day_and_rejects_half_or_double():
    day = date(2024, 3, 12)
    band = expected_bands({day: 5000})[day].band
    expected = 5000 * calendar_factor(day)
    assert band.low < expected < band.high
    assert band.low <= expected * 0.74 and band.high >= expected * 1.35  # 3 sigma noise
    assert expected * 0.45 < band.low and band.high < expected * 2.0


def test_bad_band_slack_is_a_config_error(tmp_path):
    from bnpl_quality.config import GateConfig

    with pytest.raises(ConfigError, match="band_low_slack"):
        GateConfig(band_low_slack=1.5)
