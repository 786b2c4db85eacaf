"""Day types (for the report)."""

from __future__ import annotations

from datetime import date

import pytest
from bnpl_quality.calendar import day_type


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
