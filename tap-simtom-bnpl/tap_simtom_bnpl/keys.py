"""Keys that survive simtom's per-response numbering.

simtom restarts `transaction_id` and `customer_id` in every response, so neither is an
identity on its own:

* `transaction_key` = day + the record's ordinal within that day. A day's record count
  depends only on (seed, date, volume), so every extraction of the day - in any window -
  yields the same key set.
* `customer_key` = hash of the exact request body + simtom's `customer_id`: a customer id
  only means something inside the response to that body.
* `customer_profile_key` = hash of `customer_key` + the profile attributes, which change
  when simtom forgets a customer and re-draws it under the same id.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import orjson

PROFILE_ATTRIBUTES = (
    "customer_age_bracket",
    "customer_income_bracket",
    "customer_credit_score_range",
    "customer_verification_level",
    "customer_address_stability",
    "customer_state",
)
# Customers the key cache of one response remembers. It saves two hashes per record, and a
# customer's records cluster in time; unbounded, it grew with window_days x base_daily_volume
# (docs/tuning.md).
KEY_CACHE_SIZE = 4096


def canonical_body(body: dict) -> bytes:
    """The request body as sorted-keys compact JSON (what the keys are hashed over)."""
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def transaction_key_prefix(day: dt.date) -> str:
    """`YYYYMMDD-`: the part of a transaction key shared by a whole day."""
    return f"{day:%Y%m%d}-"


def transaction_key(day: dt.date, ordinal: int) -> str:
    """`YYYYMMDD-NNNNNN`: the day and the 0-based ordinal of the record within it."""
    return f"{transaction_key_prefix(day)}{ordinal:06d}"


class ResponseKeys:
    """Customer and profile keys for the records of one response.

    `scope` is extra hashed material for responses that cannot be reproduced (no seed):
    there the same body returns different customers, so the body alone would give two
    different customers the same key.
    """

    def __init__(self, body: dict, scope: str = "") -> None:
        material = canonical_body(body)
        if scope:
            material += b"|" + scope.encode()
        self._prefix = hashlib.sha256(material + b"|")
        self._latest: dict[str, tuple[tuple, str, str]] = {}  # id -> attributes and keys

    def customer_key(self, customer_id: str) -> str:
        """`cust_` + 16 hex of sha256(canonical body | customer_id)."""
        digest = self._prefix.copy()
        digest.update(customer_id.encode())
        return "cust_" + digest.hexdigest()[:16]

    def profile_key(self, customer_key: str, attributes: tuple[str, ...]) -> str:
        """16 hex of sha256 over the customer key and its profile attributes."""
        material = "|".join((customer_key, *attributes))  # validated strings
        return hashlib.sha256(material.encode()).hexdigest()[:16]

    def keys_of(self, customer_id: str, attributes: tuple) -> tuple[str, str]:
        """(customer_key, profile_key) of a customer id with its profile attributes.

        Both are pure functions of (id, attributes) within a response, and a customer
        repeats many times in one: one lookup by id and a comparison of the attributes. Only
        the latest profile of an id is kept; simtom re-draws a customer rarely. The cache
        starts over when it holds KEY_CACHE_SIZE ids, so its size does not grow with volume.
        """
        latest = self._latest.get(customer_id)
        if latest is not None and latest[0] == attributes:
            return latest[1], latest[2]
        customer_key = self.customer_key(customer_id)
        profile_key = self.profile_key(customer_key, attributes)
        if len(self._latest) >= KEY_CACHE_SIZE:
            self._latest.clear()
        self._latest[customer_id] = (attributes, customer_key, profile_key)
        return customer_key, profile_key
