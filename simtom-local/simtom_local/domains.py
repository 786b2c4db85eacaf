"""Value domains of simtom's BNPL records: value sets from the repository's dbt seed,
weights and distributions (server-only facts, from simtom's real captures) here.

The value set of every enumerated field comes from ``transform/seeds/simtom_allowed_values.csv``
(the one home of simtom's allowed values, which dbt tests against too), read from this
package's place in the repository: simtom-local is a repository-internal development package,
installed editable (``pip install -e ./simtom-local``). Each weighted table below names values
of its field; a value the seed does not list stops the import with an error naming both.

Risk scenarios and their mix (weights): ``low_risk_purchase`` 60, ``impulse_purchase`` 20,
``credit_stretched`` 15, ``high_risk_behavior`` 5. Each scenario fixes its behavioural fields
(as observed): purchase context, checkout speed, price-comparison time and time on site.

Risk level bands over ``risk_score`` (the captures show low up to 0.29, medium 0.30-0.58,
high from 0.61; very_high is named by simtom's API but rare):

    score < 0.30 -> low,   0.30 <= score < 0.60 -> medium,
    0.60 <= score < 0.80 -> high,   score >= 0.80 -> very_high

``risk_score`` is a sum of hundredths (customer, device, scenario and noise parts) clipped
to [0.01, 0.99], so it carries binary float artefacts such as ``0.4700000000000001`` like
simtom's. ``will_default`` is drawn with probability ``0.005 + 0.25 * score**2`` (about 3%
over the mix); ``days_to_first_missed_payment`` is a bi-weekly due date (14, 28, ...) of one
of the installments after the first, and null unless ``will_default``.
"""

from __future__ import annotations

import csv
from itertools import accumulate
from pathlib import Path

TABLE_SIZE = 1000
ALLOWED_VALUES_CSV = (
    Path(__file__).resolve().parents[2] / "transform" / "seeds" / "simtom_allowed_values.csv"
)


def allowed_values(path: Path = ALLOWED_VALUES_CSV) -> dict[str, frozenset[str]]:
    """{simtom field: its allowed values as text} from the seed CSV (columns field,value)."""
    if not path.is_file():
        raise RuntimeError(
            f"allowed values: {path} not found (simtom-local reads simtom's value sets from "
            "the repository's dbt seed; install it editable from the repository)"
        )
    allowed: dict[str, set[str]] = {}
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            allowed.setdefault(row["field"], set()).add(row["value"])
    return {field: frozenset(values) for field, values in allowed.items()}


ALLOWED = allowed_values()


def allowed(field: str, values: tuple) -> tuple:
    """``values`` unchanged once each is in the seed's set for ``field`` (compared as text)."""
    known = ALLOWED.get(field, frozenset())
    for value in values:
        if str(value) not in known:
            raise ValueError(
                f"{field}: {value!r} is not in {ALLOWED_VALUES_CSV.name} "
                f"(expected one of {', '.join(sorted(known)) or 'no listed value'})"
            )
    return values


def weighted(field: str, weights: dict) -> tuple:
    """A draw table (see ``table``) over the keys of ``weights``, each checked against the seed."""
    return table(allowed(field, tuple(weights)), tuple(weights.values()))


def table(values: tuple, weights: tuple[float, ...]) -> tuple:
    """A lookup table drawing ``values`` with ``weights``: ``t[int(random() * TABLE_SIZE)]``.

    One index instead of a bisect per draw; weights resolve to 1/1000, plenty here.
    """
    total = float(sum(weights))
    bounds = [w / total * TABLE_SIZE for w in accumulate(weights)]
    out = []
    for slot in range(TABLE_SIZE):
        index = next(
            i for i, bound in enumerate(bounds) if slot + 0.5 < bound or i == len(bounds) - 1
        )
        out.append(values[index])
    return tuple(out)


RISK_BANDS = ((0.30, "low"), (0.60, "medium"), (0.80, "high"))
VERY_HIGH = "very_high"
allowed("risk_level", (*(level for _, level in RISK_BANDS), VERY_HIGH))


def risk_level(score: float) -> str:
    """simtom's risk level of a risk score (bands above)."""
    for upper, level in RISK_BANDS:
        if score < upper:
            return level
    return VERY_HIGH


# simtom's scenario mix; the gate's mix check reads it from here too.
SCENARIO_WEIGHTS = {
    "low_risk_purchase": 60,
    "impulse_purchase": 20,
    "credit_stretched": 15,
    "high_risk_behavior": 5,
}
SCENARIOS = allowed("risk_scenario", tuple(SCENARIO_WEIGHTS))
SCENARIO_TABLE = weighted("risk_scenario", SCENARIO_WEIGHTS)
# Added to a customer's base risk; hundredths so sums keep simtom's float artefacts.
SCENARIO_RISK = {
    "low_risk_purchase": 0.0,
    "impulse_purchase": 0.03,
    "credit_stretched": 0.06,
    "high_risk_behavior": 0.1,
}
PURCHASE_CONTEXT = {
    "low_risk_purchase": "normal",
    "impulse_purchase": "impulse",
    "credit_stretched": "normal",
    "high_risk_behavior": "rushed",
}
# (checkout speeds, price_comparison_time range, time_on_site_seconds range), inclusive
SCENARIO_BEHAVIOUR = {
    "low_risk_purchase": (("normal", "slow"), (60, 299), (180, 899)),
    "impulse_purchase": (("fast",), (0, 59), (120, 299)),
    "credit_stretched": (("normal",), (60, 299), (300, 599)),
    "high_risk_behavior": (("very_fast",), (0, 29), (30, 119)),
}

for speeds, _, _ in SCENARIO_BEHAVIOUR.values():
    allowed("checkout_speed", speeds)
allowed("purchase_context", tuple(PURCHASE_CONTEXT.values()))

INSTALLMENT_TABLE = weighted("installment_count", {4: 70, 6: 30})
PAYMENT_INTERVAL_DAYS = 14  # bi_weekly

AGE_TABLE = weighted(
    "customer_age_bracket", {"18-24": 18, "25-34": 30, "35-44": 22, "45-54": 16, "55+": 14}
)
INCOME_TABLE = weighted(
    "customer_income_bracket",
    {"<25k": 15, "25k-50k": 27, "50k-75k": 24, "75k-100k": 18, "100k+": 16},
)
CREDIT_TABLE = weighted(
    "customer_credit_score_range", {"poor": 16, "fair": 30, "good": 36, "excellent": 18}
)
VERIFICATION_TABLE = weighted(
    "customer_verification_level", {"verified": 65, "partial": 22, "unverified": 13}
)
ADDRESS_TABLE = weighted(
    "customer_address_stability", {"stable": 60, "new": 21, "frequent_mover": 19}
)
MAX_TENURE_DAYS = 730

CUSTOMER_RISK = {
    "credit": {"poor": 0.15, "fair": 0.08, "good": 0.0, "excellent": -0.05},
    "verification": {"verified": 0.0, "partial": 0.04, "unverified": 0.08},
    "address": {"stable": 0.0, "new": 0.04, "frequent_mover": 0.06},
    "income": {"<25k": 0.05, "25k-50k": 0.03, "50k-75k": 0.0, "75k-100k": -0.01, "100k+": -0.02},
}
CUSTOMER_RISK_BASE = 0.21
NEW_CUSTOMER_RISK = 0.05  # tenure under 90 days
UNTRUSTED_DEVICE_RISK = 0.1

# 50 states and DC, weighted by approximate population (millions).
STATES = (
    ("CA", 39.0), ("TX", 30.5), ("FL", 22.6), ("NY", 19.6), ("PA", 13.0), ("IL", 12.5),
    ("OH", 11.8), ("GA", 11.0), ("NC", 10.8), ("MI", 10.0), ("NJ", 9.3), ("VA", 8.7),
    ("WA", 7.8), ("AZ", 7.4), ("TN", 7.1), ("MA", 7.0), ("IN", 6.9), ("MO", 6.2),
    ("MD", 6.2), ("WI", 5.9), ("CO", 5.9), ("MN", 5.7), ("SC", 5.4), ("AL", 5.1),
    ("LA", 4.6), ("KY", 4.5), ("OR", 4.2), ("OK", 4.0), ("CT", 3.6), ("UT", 3.4),
    ("IA", 3.2), ("NV", 3.2), ("AR", 3.1), ("MS", 2.9), ("KS", 2.9), ("NM", 2.1),
    ("NE", 2.0), ("ID", 1.96), ("WV", 1.77), ("HI", 1.44), ("NH", 1.4), ("ME", 1.4),
    ("MT", 1.13), ("RI", 1.1), ("DE", 1.03), ("SD", 0.92), ("ND", 0.78), ("AK", 0.73),
    ("DC", 0.68), ("VT", 0.65), ("WY", 0.58),
)  # fmt: skip
STATE_CODES = tuple(code for code, _ in STATES)
STATE_TABLE = table(STATE_CODES, tuple(weight for _, weight in STATES))

# category -> (weight, subcategories, brands, (min price, max price))
CATEGORIES = {
    "electronics": (
        30,
        ("smartphones", "laptops", "tablets", "headphones", "cameras"),
        ("Apple", "Samsung"),
        (29.0, 400.0),
    ),
    "clothing": (
        25,
        ("shoes", "jeans", "dresses", "jackets", "accessories"),
        ("Zara", "H&M", "Nike", "Adidas"),
        (15.0, 150.0),
    ),
    "home": (
        20,
        ("furniture", "kitchen", "bedding", "decor", "appliances"),
        ("IKEA", "Samsung", "H&M"),
        (20.0, 300.0),
    ),
    "sports": (
        12,
        ("athletic_wear", "fitness", "outdoor", "team_sports"),
        ("Nike", "Adidas"),
        (20.0, 200.0),
    ),
    "beauty": (
        13,
        ("skincare", "makeup", "fragrances", "haircare", "tools"),
        ("Sephora",),
        (8.0, 80.0),
    ),
}
CATEGORY_TABLE = weighted("product_category", {name: spec[0] for name, spec in CATEGORIES.items()})
for _, subcategories, brands, _ in CATEGORIES.values():
    allowed("product_subcategory", subcategories)
    allowed("product_brand", brands)
PRODUCT_RISK_TABLE = weighted("product_risk_category", {"low": 50, "medium": 34, "high": 16})
BNPL_ELIGIBLE_SHARE = 0.7
CATALOG_SIZE = 5000

DEVICE_TYPE_TABLE = weighted("device_type", {"mobile": 48, "desktop": 38, "tablet": 14})
DEVICE_OS_TABLE = {
    "mobile": weighted("device_os", {"Android": 68, "iOS": 32}),
    "desktop": weighted("device_os", {"Windows": 73, "macOS": 22, "Linux": 5}),
    "tablet": weighted("device_os", {"iOS": 60, "Android": 40}),
}
DEVICE_TRUSTED_SHARE = 0.96
DEVICE_NUMBER_TABLE = table((1, 2), (45, 55))
PAYMENT_METHOD_NUMBER_TABLE = table((1, 2, 3), (27, 40, 33))

PROVIDER_TABLE = weighted(
    "payment_provider", {"klarna": 31, "afterpay": 25, "affirm": 23, "sezzle": 21}
)
CREDIT_LIMITS = allowed("payment_credit_limit", (500, 1000, 1500, 2500, 5000))
# Better credit, higher limits.
CREDIT_LIMIT_TABLE = {
    "poor": table(CREDIT_LIMITS, (45, 25, 15, 10, 5)),
    "fair": table(CREDIT_LIMITS, (30, 25, 25, 12, 8)),
    "good": table(CREDIT_LIMITS, (18, 20, 25, 20, 17)),
    "excellent": table(CREDIT_LIMITS, (8, 14, 20, 25, 33)),
}

# Remembered entities per response, as simtom keeps them; older ones are forgotten and re-drawn.
CUSTOMER_MEMORY = 10_000
DEVICE_MEMORY = 15_000
PAYMENT_METHOD_MEMORY = 20_000
NEW_CUSTOMER_SHARE = 0.3  # of transactions, once a response has customers
# Returning customers are drawn from the most recent ids: this many times the memory.
RETURNING_WINDOW = 1.25

(GENERATOR_NAME,) = allowed("_generator", ("BNPLGenerator",))
