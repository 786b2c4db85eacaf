"""Regenerate the calendar and geography seeds from the `holidays` package.

Run from anywhere with holidays==0.108 installed:
    python transform/scripts/generate_seeds.py
Writes transform/seeds/us_public_holidays.csv and transform/seeds/us_state_codes.csv.
"""

from __future__ import annotations

import csv
from pathlib import Path

import holidays

SEEDS_DIR = Path(__file__).resolve().parent.parent / "seeds"
FIRST_YEAR, LAST_YEAR = 2020, 2030  # keep in step with vars bnpl_calendar_start/end

# Faker's state_abbr(), which simtom uses, also draws the freely associated states that the
# holidays package does not list as US subdivisions.
FREELY_ASSOCIATED_STATES = ("FM", "MH", "PW")
DISTRICTS = ("DC",)
TERRITORIES = ("AS", "GU", "MP", "PR", "UM", "VI")


def write_public_holidays(path: Path) -> int:
    """Write one row per US federal public holiday (observed dates included)."""
    calendar = holidays.US(years=range(FIRST_YEAR, LAST_YEAR + 1), categories=("public",))
    rows = sorted(calendar.items())
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["holiday_date", "holiday_name", "is_observed_shift"])
        for day, name in rows:
            writer.writerow([day.isoformat(), name, str("(observed)" in name).lower()])
    return len(rows)


def write_state_codes(path: Path) -> int:
    """Write the US state, district, territory and freely associated state codes."""
    codes = sorted(set(holidays.US.subdivisions) | set(FREELY_ASSOCIATED_STATES))
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["state_code", "state_kind"])
        for code in codes:
            if code in DISTRICTS:
                kind = "district"
            elif code in FREELY_ASSOCIATED_STATES:
                kind = "freely_associated_state"
            elif code in TERRITORIES:
                kind = "territory"
            else:
                kind = "state"
            writer.writerow([code, kind])
    return len(codes)


def main() -> None:
    """Regenerate both seeds."""
    holidays_written = write_public_holidays(SEEDS_DIR / "us_public_holidays.csv")
    states_written = write_state_codes(SEEDS_DIR / "us_state_codes.csv")
    print(f"us_public_holidays.csv: {holidays_written} rows")
    print(f"us_state_codes.csv: {states_written} rows")


if __name__ == "__main__":
    main()
