"""500s, 429s, timeouts and connection drops at seeded random points inside a multi-day run.

The local server decides each stream request's fault as it arrives, from a plan drawn
with a fixed seed: which requests fail and how, and for drops the record after which the
connection is cut (anywhere in the response, torn mid-line or not). The real daily job
runs through it; its marts must hold the clean run's transactions, key for key, with the
same count per day.

Customer keys hash the exact request body (simtom numbers customers per response), and
after a cut body the tap asks again from the first incomplete day, i.e. with another
body. So the customer marts are checked for integrity here (every transaction's customer
exists once), not against the clean run's keys; the kill test compares those too. Models
per request window (`*_by_window`) are keyed by the window, and this run asks for 2-day
windows (more requests for faults to land on) where the clean run asks for 7-day ones.
"""

from __future__ import annotations

import random
import threading
from typing import Any

import pytest
from simtom_local import Faults, SimtomServer
from simtom_local.faults import FaultState, RequestFaults

from .harness import CleanReference, compare_with_clean, isolated_project, job_command, run_job

pytestmark = [pytest.mark.job, pytest.mark.slow, pytest.mark.reliability]

PLAN_SEED = 20241125
FAULTS_TO_DELIVER = 10
REQUEST_TIMEOUT = 2  # seconds; a stall longer than this is a client timeout


class FaultPlan(FaultState):
    """Server-side faults decided per stream request from a seeded plan."""

    KINDS = ("http_500", "http_503", "http_429", "timeout", "drop", "drop_mid_line")

    def __init__(self, server: SimtomServer, day_counts: dict[str, int], seed: int) -> None:
        super().__init__(Faults())
        self.server = server
        self.day_counts = day_counts
        self.rng = random.Random(seed)
        self.delivered: list[dict[str, Any]] = []
        # Every kind at least once, in a seeded order; which requests get them is random too.
        deck = list(self.KINDS) * 2
        self.rng.shuffle(deck)
        self.deck = deck[:FAULTS_TO_DELIVER]
        self.requests = 0
        self._consecutive = 0
        self._plan_lock = threading.Lock()

    def _records_asked(self) -> int:
        body = self.server.requests[-1]  # ISO dates: string order is date order
        first, last = body["start_date"], body["end_date"]
        return sum(n for day, n in self.day_counts.items() if first <= day <= last)

    def for_request(self) -> RequestFaults:
        with self._plan_lock:
            self.requests += 1
            decided = RequestFaults()
            # At most three faults in a row, so the tap's max_retries (8) is never what
            # decides the outcome; a request without fault between them lets it progress.
            if not self.deck or self._consecutive >= 3 or self.rng.random() < 0.1:
                self._consecutive = 0
                return decided
            kind = self.deck.pop()
            entry: dict[str, Any] = {"request": self.requests, "kind": kind}
            if kind.startswith("http_"):
                decided.fail_status = int(kind[5:])
                if kind == "http_429":
                    decided.retry_after = 1.0
            elif kind == "timeout":
                decided.stall_seconds = REQUEST_TIMEOUT + 1.5
            else:
                asked = self._records_asked()
                decided.drop_after = self.rng.randint(1, max(1, asked - 1))
                decided.drop_mid_line = kind == "drop_mid_line"
                entry.update(after_record=decided.drop_after, of_records=asked)
            self._consecutive += 1
            self.delivered.append(entry)
            return decided


def test_network_faults_lose_and_duplicate_nothing(
    tmp_path, api_key: str, clean_reference: CleanReference, record
) -> None:
    with SimtomServer(host="127.0.0.1", port=0, pace_seconds=0.0) as server:
        plan = FaultPlan(server, clean_reference.per_day, PLAN_SEED)
        server._fault_state = plan  # the plan replaces the static switches
        project = isolated_project(
            tmp_path,
            server.url,
            api_key,
            TAP_SIMTOM_BNPL_REQUEST_TIMEOUT=str(REQUEST_TIMEOUT),
            # Two-day windows: more requests, so more points for faults to land on.
            TAP_SIMTOM_BNPL_WINDOW_DAYS="2",
            TAP_SIMTOM_BNPL_RETRY_BACKOFF_SECONDS="1",
            TAP_SIMTOM_BNPL_RETRY_BACKOFF_MAX_SECONDS="2",
        )
        run = run_job(project, "run-faults", job_command())
        requests = plan.requests

    # Customer keys hash the request body (see the module docstring), and per-window models
    # are keyed by the request window, which is 2 days here and 7 in the clean run.
    result = compare_with_clean(project, clean_reference, skip=("customer", "by_window"))
    attempts = project.query("SELECT sum(attempts)::INT, count(*)::INT FROM raw.extraction_log")[0]
    kinds: dict[str, int] = {}
    for entry in plan.delivered:
        kinds[entry["kind"]] = kinds.get(entry["kind"], 0) + 1
    record(
        fault="500/503/429 answers, client timeouts, connection drops (clean or mid-line) "
        "at seeded random points",
        injected=len(plan.delivered),
        injected_by_kind=kinds,
        runs=1,
        job_exit_code=run.proc.returncode,
        **result.fields(),
        stream_requests=requests,
        tap_attempts_logged=attempts[0],
        plan=plan.delivered,
    )

    assert run.proc.returncode == 0, run.output[-4000:]
    assert len(plan.delivered) == FAULTS_TO_DELIVER, plan.delivered
    assert set(kinds) == set(FaultPlan.KINDS), kinds
    result.assert_equal()
    # The tap saw the faults: more HTTP attempts than days, as its extraction log says.
    assert attempts[0] > attempts[1]
    (orphans,) = project.query(
        "SELECT count(*) FROM marts.mart_bnpl_transactions t "
        "LEFT JOIN marts.mart_bnpl_customers c USING (customer_key) WHERE c.customer_key IS NULL"
    )[0]
    assert orphans == 0
