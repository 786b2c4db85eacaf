"""BNPL records of one response, serialised straight to simtom's wire lines.

One ``ResponseGenerator`` serves one HTTP response: it numbers transactions and customers
from zero/one like simtom, remembers the last 10,000 customers (15,000 devices, 20,000
payment methods) and re-draws the attributes of a forgotten one that comes back under
the same id. Customer, device, payment-method and product attributes are serialised once
when drawn and spliced into each line, which keeps generation far above simtom's speed;
the output is exactly what ``json.dumps`` with default separators would produce.

Customer age and tenure hold as of the request (simtom computes them from its clock at
request time), so a customer's tenure does not grow across the days of ``_timestamp``.
"""

from __future__ import annotations

import os
import random
from collections import OrderedDict
from collections.abc import Iterable
from functools import lru_cache

from . import domains as d
from .products import catalog

_BOOL = ("false", "true")
# Noise in hundredths: keeps risk_score a sum of 0.01 steps (with float artefacts).
_RISK_NOISE = tuple(k / 100 for k in range(-8, 9))


@lru_cache(maxsize=1)
def clock_strings() -> tuple[str, ...]:
    """``HH:MM:SS`` for every second of a day."""
    return tuple(f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86400))


class ResponseGenerator:
    """Draws the records of one response; not thread-safe (the server serialises use)."""

    def __init__(self, content_seed: int, catalog_token: str) -> None:
        self.rng = random.Random(content_seed)
        self.products = catalog(catalog_token)
        self.next_record_id = 0
        self.customers_issued = 0
        # id -> (customer_id, fragment, base risk, credit-limit weights)
        self._customers: OrderedDict[int, tuple[str, str, float, tuple[int, ...]]] = OrderedDict()
        self._devices: OrderedDict[int, tuple[str, float]] = OrderedDict()
        self._payment_methods: OrderedDict[int, tuple[str, int]] = OrderedDict()

    def perturb(self) -> None:
        """Re-draw from here on, as simtom does when another request shared its random state."""
        self.rng.seed(self.rng.getrandbits(64) ^ int.from_bytes(os.urandom(8), "big"))

    # --- entities -------------------------------------------------------------------------

    def _new_customer(self, number: int) -> tuple[str, str, float, tuple[int, ...]]:
        rand = self.rng.random
        size = d.TABLE_SIZE
        bracket = d.AGE_TABLE[int(rand() * size)]
        tenure = 1 + int(rand() * d.MAX_TENURE_DAYS)
        income = d.INCOME_TABLE[int(rand() * size)]
        credit = d.CREDIT_TABLE[int(rand() * size)]
        verification = d.VERIFICATION_TABLE[int(rand() * size)]
        address = d.ADDRESS_TABLE[int(rand() * size)]
        state = d.STATE_TABLE[int(rand() * size)]
        risk = d.CUSTOMER_RISK
        base_risk = d.CUSTOMER_RISK_BASE + risk["credit"][credit]
        base_risk += risk["verification"][verification]
        base_risk += risk["address"][address]
        base_risk += risk["income"][income]
        if tenure < 90:
            base_risk += d.NEW_CUSTOMER_RISK
        fragment = (
            f'"customer_age_bracket": "{bracket}", "customer_tenure_days": {tenure}, '
            f'"customer_income_bracket": "{income}", "customer_credit_score_range": "{credit}", '
            f'"customer_verification_level": "{verification}", '
            f'"customer_address_stability": "{address}", "customer_state": "{state}"'
        )
        return f"cust_{number:06d}", fragment, base_risk, d.CREDIT_LIMIT_TABLE[credit]

    def _new_device(self) -> tuple[str, float]:
        rand = self.rng.random
        device_type = d.DEVICE_TYPE_TABLE[int(rand() * d.TABLE_SIZE)]
        system = d.DEVICE_OS_TABLE[device_type][int(rand() * d.TABLE_SIZE)]
        trusted = rand() < d.DEVICE_TRUSTED_SHARE
        return (
            f'"device_type": "{device_type}", "device_os": "{system}", '
            f'"device_is_trusted": {_BOOL[trusted]}',
            0.0 if trusted else d.UNTRUSTED_DEVICE_RISK,
        )

    def _new_payment_method(self, limits: tuple[int, ...]) -> tuple[str, int]:
        rand = self.rng.random
        provider = d.PROVIDER_TABLE[int(rand() * d.TABLE_SIZE)]
        limit = limits[int(rand() * d.TABLE_SIZE)]
        return (
            f'"payment_provider": "{provider}", "payment_type": "bnpl_account", '
            f'"payment_credit_limit": {limit}',
            limit,
        )

    # --- records --------------------------------------------------------------------------

    def lines(self, timestamps: Iterable[str], stress: float = 0.0) -> list[str]:
        """One wire line (``data: {...}\\n\\n``) per timestamp, in the order given."""
        # Hot loop: locals and table lookups only; see module docstring.
        rand = self.rng.random
        size = d.TABLE_SIZE
        products = self.products
        n_products = len(products)
        customers = self._customers
        devices = self._devices
        methods = self._payment_methods
        new_customer = self._new_customer
        new_device = self._new_device
        new_method = self._new_payment_method
        scenario_table = _SCENARIO_SPECS
        installment_table = d.INSTALLMENT_TABLE
        device_numbers = d.DEVICE_NUMBER_TABLE
        method_numbers = d.PAYMENT_METHOD_NUMBER_TABLE
        noise = _RISK_NOISE
        n_noise = len(noise)
        new_share = d.NEW_CUSTOMER_SHARE
        window = int(d.CUSTOMER_MEMORY * d.RETURNING_WINDOW)
        stress_risk = 0.2 * stress
        stress_text = repr(stress)
        score_text = _SCORE_TEXT
        interval = d.PAYMENT_INTERVAL_DAYS
        out: list[str] = []
        append = out.append
        record_id = self.next_record_id
        issued = self.customers_issued
        for stamp in timestamps:
            if issued == 0 or rand() < new_share:
                issued += 1
                number = issued
                customer = None
            else:
                # Returning customers are recent ones; the oldest of them are already
                # forgotten and come back with new attributes (a profile change).
                number = issued - int(rand() * (issued if issued < window else window))
                customer = customers.get(number)
            if customer is None:
                customer = customers[number] = new_customer(number)
                if len(customers) > d.CUSTOMER_MEMORY:
                    customers.popitem(last=False)
            else:
                customers.move_to_end(number)
            customer_id, customer_fragment, base_risk, limits = customer

            device_no = device_numbers[int(rand() * size)]
            key = number * 4 + device_no
            device = devices.get(key)
            if device is None:
                device = devices[key] = new_device()
                if len(devices) > d.DEVICE_MEMORY:
                    devices.popitem(last=False)
            else:
                devices.move_to_end(key)
            device_fragment, device_risk = device

            method_no = method_numbers[int(rand() * size)]
            key = number * 4 + method_no
            method = methods.get(key)
            if method is None:
                method = methods[key] = new_method(limits)
                if len(methods) > d.PAYMENT_METHOD_MEMORY:
                    methods.popitem(last=False)
            else:
                methods.move_to_end(key)
            method_fragment, limit = method

            product = products[int(rand() ** 1.3 * n_products)]
            kind, scenario_risk, speeds, pc_low, pc_span, ts_low, ts_span = scenario_table[
                int(rand() * size)
            ]
            speed = speeds[int(rand() * len(speeds))]
            cart = int(rand() * 4)
            comparison = pc_low + int(rand() * pc_span)
            on_site = ts_low + int(rand() * ts_span)
            installments = installment_table[int(rand() * size)]
            score = base_risk + scenario_risk
            score += device_risk
            score += noise[int(rand() * n_noise)]
            if stress_risk:
                score += stress_risk
            if score < 0.01:
                score = 0.01
            elif score > 0.99:
                score = 0.99
            text = score_text.get(score)
            if text is None:
                text = (repr(score), d.risk_level(score))
                if len(score_text) < 100_000:  # drift makes scores continuous
                    score_text[score] = text
            if rand() < 0.005 + 0.25 * score * score:
                defaulted = "true"
                missed = interval * (1 + int(rand() * rand() * (installments - 1)))
            else:
                defaulted = "false"
                missed = "null"
            risk = (
                f'"risk_score": {text[0]}, "risk_level": "{text[1]}", '
                f'"installment_count": {installments}, '
                f'"first_payment_amount": {product.first_payment}, '
                f'"payment_frequency": "bi_weekly", '
            )
            # Key order follows the captures: scenario-specific fields move up front.
            if kind == 0:
                middle = (
                    f'"risk_scenario": "low_risk_purchase", {risk}"purchase_context": "normal", '
                    f'"checkout_speed": "{speed}", "cart_abandonment_count": {cart}, '
                    f'"price_comparison_time": {comparison}, "time_on_site_seconds": {on_site}, '
                )
            elif kind == 1:
                middle = (
                    f'"purchase_context": "impulse", "risk_scenario": "impulse_purchase", {risk}'
                    f'"checkout_speed": "{speed}", "cart_abandonment_count": {cart}, '
                    f'"price_comparison_time": {comparison}, "time_on_site_seconds": {on_site}, '
                )
            elif kind == 2:
                utilization = 0.35 + 0.5 * rand() + product.price / limit
                utilization = round(utilization, 4) if utilization < 0.99 else 0.99
                middle = (
                    f'"credit_utilization": {utilization!r}, '
                    f'"risk_scenario": "credit_stretched", {risk}"purchase_context": "normal", '
                    f'"checkout_speed": "{speed}", "cart_abandonment_count": {cart}, '
                    f'"price_comparison_time": {comparison}, "time_on_site_seconds": {on_site}, '
                )
            else:
                middle = (
                    f'"purchase_context": "rushed", "time_on_site_seconds": {on_site}, '
                    f'"risk_scenario": "high_risk_behavior", {risk}'
                    f'"checkout_speed": "{speed}", "cart_abandonment_count": {cart}, '
                    f'"price_comparison_time": {comparison}, '
                )
            append(
                f'data: {{"transaction_id": "txn_{str(record_id).zfill(8)}", '
                f'"customer_id": "{customer_id}", "product_id": "{product.product_id}", '
                f'"device_id": "{customer_id}_device_{device_no}", '
                f'"payment_method_id": "{customer_id}_pm_{method_no}", '
                f'"amount": {product.amount}, "currency": "USD", "status": "completed", {middle}'
                f'"economic_stress_factor": {stress_text}, "will_default": {defaulted}, '
                f'"days_to_first_missed_payment": {missed}, {customer_fragment}, '
                f"{product.fragment}, {device_fragment}, {method_fragment}, "
                f'"_timestamp": "{stamp}", "_record_id": {record_id}, '
                f'"_generator": "BNPLGenerator"}}\n\n'
            )
            record_id += 1
        self.next_record_id = record_id
        self.customers_issued = issued
        return out


def _scenario_spec(kind: int, name: str) -> tuple:
    speeds, (pc_low, pc_high), (ts_low, ts_high) = d.SCENARIO_BEHAVIOUR[name]
    span_pc, span_ts = pc_high - pc_low + 1, ts_high - ts_low + 1
    return kind, d.SCENARIO_RISK[name], speeds, pc_low, span_pc, ts_low, span_ts


# kinds: 0 low_risk_purchase, 1 impulse_purchase, 2 credit_stretched, 3 high_risk_behavior
_SCENARIO_SPECS = tuple(_scenario_spec(d.SCENARIOS.index(name), name) for name in d.SCENARIO_TABLE)
# risk_score -> (its JSON text, its risk level); scores take a few hundred distinct values.
_SCORE_TEXT: dict[float, tuple[str, str]] = {}
