"""When a day's rejected lines stop the run instead of passing as a quiet quarantine.

A renamed or retyped field upstream sends every line of a day to quarantine; loading the
day with no transactions and bookmarking it would hide that. A day whose quarantined share
of lines exceeds `max_rejected_share`, or that yields no transaction although simtom sent
lines for it, fails the run with one line naming the day, the share and the most common
reason. The day gets no STATE, so a rerun extracts it again once the cause is fixed.
"""

from __future__ import annotations

from collections import Counter

from tap_simtom_bnpl.parsing import reason_kind
from tap_simtom_bnpl.response import DayBatch


class RejectedDay(Exception):
    """A day rejected too many of its lines; the message is one line."""


def _percents(share: float, limit: float) -> tuple[str, str]:
    """Both as percentages, with as many decimals as it takes to tell them apart."""
    for decimals in range(1, 5):
        shown = f"{share:.{decimals}%}", f"{limit:.{decimals}%}"
        if shown[0] != shown[1]:
            return shown
    return shown


def most_common_reason(quarantine: list[dict]) -> str:
    """`missing amount (5123)`: the reason (without its quoted value) most lines share."""
    counts = Counter(reason_kind(row["reason"]) for row in quarantine)
    if not counts:
        return "none recorded"
    reason, count = counts.most_common(1)[0]
    return f"{reason} ({count})"


def day_problem(batch: DayBatch, max_rejected_share: float) -> str | None:
    """Why `batch` must fail the run, in one line; None when it may be loaded."""
    received = batch.log["records_received"]
    if received == 0:
        return None  # simtom sent nothing for the day: an empty day, not a rejected one
    rejected = batch.log["records_quarantined"]
    share = rejected / received
    reason = most_common_reason(batch.quarantine)
    if share > max_rejected_share:
        shown, limit = _percents(share, max_rejected_share)
        return (
            f"{batch.day}: {rejected} of {received} lines rejected ({shown} > "
            f"max_rejected_share {limit}); most common reason: {reason}"
        )
    if batch.log["records_emitted"] == 0:
        return (
            f"{batch.day}: no transaction from the {received} lines simtom sent ({rejected} "
            f"rejected); most common reason: {reason}"
        )
    return None
