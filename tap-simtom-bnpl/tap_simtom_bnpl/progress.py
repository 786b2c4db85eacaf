"""Progress at INFO: records and rate per day; days done and an ETA for long ranges."""

from __future__ import annotations

import logging
import time

from tap_simtom_bnpl.response import DayBatch

LONG_RANGE_DAYS = 7


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{seconds:02d}s" if hours else f"{minutes}m{seconds:02d}s"


class Progress:
    """Logs one line per completed day."""

    def __init__(self, logger: logging.Logger, total_days: int) -> None:
        self._logger = logger
        self._total = total_days
        self._done = 0
        self._records = 0
        self._started = time.monotonic()

    def day_done(self, batch: DayBatch) -> None:
        """Log the day's counts, its rate and - for long ranges - days done and ETA."""
        self._done += 1
        count = len(batch.transactions)
        self._records += count
        seconds = max(batch.log["duration_seconds"], 1e-6)
        message = (
            f"{batch.day}: {count} transactions, {len(batch.customers)} new customer profiles, "
            f"{len(batch.quarantine)} quarantined in {seconds:.2f} s ({count / seconds:,.0f} "
            f"records/s, attempt {batch.log['attempts']})"
        )
        if self._total > LONG_RANGE_DAYS:
            elapsed = time.monotonic() - self._started
            remaining = elapsed / self._done * (self._total - self._done)
            message += f"; {self._done}/{self._total} days done, ETA {_duration(remaining)}"
        self._logger.info(message)

    def summary(self) -> None:
        """Log the run's totals."""
        elapsed = max(time.monotonic() - self._started, 1e-6)
        self._logger.info(
            "Extracted %d days, %d transactions in %s (%.0f records/s)",
            self._done,
            self._records,
            _duration(elapsed),
            self._records / elapsed,
        )
