"""A scripted simtom endpoint for pytest-httpserver: exact control over each response.

Day counts are deterministic per date (like simtom with a seed), records carry every
simtom API field, and each request can be scripted to fail, stall, cut its body or mangle
chosen lines.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from werkzeug import Request, Response

TEMPLATE = {
    "transaction_id": "txn_00000000",
    "customer_id": "cust_000001",
    "product_id": "prod_001405",
    "device_id": "cust_000001_device_2",
    "payment_method_id": "cust_000001_pm_3",
    "amount": 194.55,
    "currency": "USD",
    "status": "completed",
    "risk_scenario": "low_risk_purchase",
    "risk_score": 0.5,
    "risk_level": "medium",
    "installment_count": 6,
    "first_payment_amount": 48.64,
    "payment_frequency": "bi_weekly",
    "purchase_context": "normal",
    "checkout_speed": "slow",
    "cart_abandonment_count": 0,
    "price_comparison_time": 286,
    "time_on_site_seconds": 569,
    "economic_stress_factor": 0.0,
    "will_default": False,
    "days_to_first_missed_payment": None,
    "customer_age_bracket": "55+",
    "customer_tenure_days": 495,
    "customer_income_bracket": "25k-50k",
    "customer_credit_score_range": "poor",
    "customer_verification_level": "verified",
    "customer_address_stability": "new",
    "customer_state": "OR",
    "product_category": "home",
    "product_subcategory": "appliances",
    "product_brand": "H&M",
    "product_price": 194.55,
    "product_bnpl_eligible": True,
    "product_risk_category": "high",
    "device_type": "desktop",
    "device_os": "Windows",
    "device_is_trusted": True,
    "payment_provider": "sezzle",
    "payment_type": "bnpl_account",
    "payment_credit_limit": 5000,
    "_timestamp": "2024-12-24T01:34:14",
    "_record_id": 0,
    "_generator": "BNPLGenerator",
}


def day_count(day: dt.date, overrides: dict[dt.date, int] | None = None) -> int:
    """Records of `day`: fixed per date, like simtom with a seed."""
    if overrides and day in overrides:
        return overrides[day]
    return 3 + day.toordinal() % 4


def records(
    start: dt.date, end: dt.date, overrides: dict[dt.date, int] | None = None
) -> list[dict]:
    """The records of a response for `start`..`end`."""
    out: list[dict] = []
    day = start
    while day <= end:
        for n in range(day_count(day, overrides)):
            record_id = len(out)
            record = dict(TEMPLATE)
            record.update(
                transaction_id=f"txn_{record_id:08d}",
                customer_id=f"cust_{record_id % 5 + 1:06d}",
                amount=round(10 + record_id * 1.5, 2),
                _timestamp=f"{day.isoformat()}T{n:02d}:00:00",
                _record_id=record_id,
            )
            record["product_price"] = record["amount"]
            out.append(record)
        day += dt.timedelta(days=1)
    return out


def line(record: dict) -> bytes:
    return b"data: " + json.dumps(record).encode() + b"\n\n"


class CutBody(Exception):
    """Raised inside the body generator: the server aborts the response mid-body."""


@dataclass
class Step:
    """How to answer one request."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    error_body: str = ""
    sleep: float = 0.0
    end_after: int | None = None  # records sent before the body ends early but cleanly
    tear_after: int | None = None  # records sent before half a line and a broken connection
    mangle: dict[int, Callable[[dict], bytes]] = field(default_factory=dict)  # by _record_id


class FakeSimtom:
    """Answers POST /stream/bnpl by a script of Steps (then plain success)."""

    def __init__(
        self,
        httpserver,
        steps: list[Step] | None = None,
        counts: dict[dt.date, int] | None = None,
    ) -> None:
        self.steps = list(steps or [])
        self.counts = counts or {}
        self.bodies: list[dict] = []
        self.headers: list[dict] = []
        self._lock = threading.Lock()
        httpserver.expect_request("/stream/bnpl", method="POST").respond_with_handler(self.handle)
        self.url = httpserver.url_for("/").rstrip("/")

    def handle(self, request: Request) -> Response:
        with self._lock:
            body = json.loads(request.get_data())
            self.bodies.append(body)
            self.headers.append(dict(request.headers))
            step = self.steps.pop(0) if self.steps else Step()
        if step.sleep:
            time.sleep(step.sleep)
        if step.status != 200:
            return Response(
                step.error_body,
                status=step.status,
                headers=step.headers,
                mimetype="application/json",
            )
        start = dt.date.fromisoformat(body["start_date"])
        end = dt.date.fromisoformat(body["end_date"])
        rows = records(start, end, self.counts)
        return Response(self._stream(rows, step), mimetype="text/plain")

    @staticmethod
    def _stream(rows: list[dict], step: Step) -> Iterator[bytes]:
        for sent, record in enumerate(rows):
            if step.end_after is not None and sent >= step.end_after:
                return
            if step.tear_after is not None and sent >= step.tear_after:
                torn = line(record)
                yield torn[: len(torn) // 2]
                raise CutBody(f"connection broken after {sent} records")
            mangle = step.mangle.get(record["_record_id"])
            yield mangle(record) if mangle else line(record)


def without(key: str) -> Callable[[dict], bytes]:
    return lambda record: line({k: v for k, v in record.items() if k != key})


def with_value(key: str, value: object) -> Callable[[dict], bytes]:
    return lambda record: line({**record, key: value})


def raw(text: bytes) -> Callable[[dict], bytes]:
    return lambda record: text
