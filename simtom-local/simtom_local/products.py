"""The product catalog a seed's shop sells from: the same products for every request."""

from __future__ import annotations

import random
from functools import lru_cache

from . import domains as d
from .seeds import derive_seed

_BOOL = ("false", "true")


class Product:
    __slots__ = ("amount", "first_payment", "fragment", "price", "product_id")

    def __init__(self, number: int, rng: random.Random) -> None:
        rand = rng.random
        size = d.TABLE_SIZE
        category = d.CATEGORY_TABLE[int(rand() * size)]
        _, subcategories, brands, (low, high) = d.CATEGORIES[category]
        subcategory = subcategories[int(rand() * len(subcategories))]
        brand = brands[int(rand() * len(brands))]
        # Skewed towards the cheap end of the category, as shop assortments are.
        price = round(low + (high - low) * rand() ** 1.6, 2)
        eligible = rand() < d.BNPL_ELIGIBLE_SHARE
        risk_category = d.PRODUCT_RISK_TABLE[int(rand() * size)]
        self.product_id = f"prod_{number:06d}"
        self.price = price
        self.amount = repr(price)
        self.first_payment = repr(round(price * 0.25, 2))
        self.fragment = (
            f'"product_category": "{category}", "product_subcategory": "{subcategory}", '
            f'"product_brand": "{brand}", "product_price": {price!r}, '
            f'"product_bnpl_eligible": {_BOOL[eligible]}, '
            f'"product_risk_category": "{risk_category}"'
        )


@lru_cache(maxsize=8)
def catalog(seed_token: str) -> tuple[Product, ...]:
    """The product catalog of a seed (or of all unseeded requests): a shop's assortment."""
    rng = random.Random(derive_seed("simtom-local", "catalog", seed_token))
    return tuple(Product(n, rng) for n in range(1, d.CATALOG_SIZE + 1))
