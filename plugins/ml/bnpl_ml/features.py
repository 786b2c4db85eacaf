"""Turning warehouse columns into the matrix the gradient-boosting model reads.

Numbers and booleans become floats (missing stays NaN, which the model handles); dates and
timestamps become epoch seconds; anything else is a category whose levels come from the
training rows only, so a level first seen in validation or test is treated as missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import numpy as np
import pandas as pd

# HistGradientBoostingClassifier bins a categorical feature into at most 255 levels, one of
# which is kept for missing values.
MAX_CATEGORY_LEVELS = 254


def _first_value(series: pd.Series) -> object:
    values = series.dropna()
    return values.iloc[0] if len(values) else None


def _is_number_like(series: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        return True
    return isinstance(_first_value(series), bool | int | float | Decimal | np.number)


def _is_time_like(series: pd.Series) -> bool:
    if pd.api.types.is_datetime64_any_dtype(series) or str(series.dtype) == "dbdate":
        return True
    return isinstance(_first_value(series), date | datetime)


def _as_float(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series.astype(object).where(series.notna(), np.nan)).astype("float64")


def _as_epoch_seconds(series: pd.Series) -> pd.Series:
    instants = pd.to_datetime(series.astype(object), utc=True)
    seconds = (instants - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
    return seconds.astype("float64")


@dataclass(frozen=True)
class FeatureEncoder:
    """How each feature column is encoded, learned from the training rows."""

    columns: tuple[str, ...]
    categories: dict[str, list[str]]

    @classmethod
    def fit(cls, train: pd.DataFrame, columns: Sequence[str]) -> FeatureEncoder:
        categories: dict[str, list[str]] = {}
        for column in columns:
            series = train[column]
            if _is_number_like(series) or _is_time_like(series):
                continue
            counts = series.dropna().astype(str).value_counts()
            # The most frequent levels, in a fixed order; rarer ones count as missing.
            levels = counts.sort_index().sort_values(ascending=False, kind="stable")
            categories[column] = sorted(levels.index[:MAX_CATEGORY_LEVELS])
        return cls(tuple(columns), categories)

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        encoded: dict[str, pd.Series] = {}
        for column in self.columns:
            series = frame[column].reset_index(drop=True)
            if column in self.categories:
                text = series.astype(object).where(series.isna(), series.astype(str))
                encoded[column] = pd.Series(
                    pd.Categorical(text, categories=self.categories[column])
                )
            elif _is_time_like(series):
                encoded[column] = _as_epoch_seconds(series)
            else:
                encoded[column] = _as_float(series)
        return pd.DataFrame(encoded)


def label_vector(series: pd.Series) -> np.ndarray:
    """0/1 labels; a missing label is an error upstream (the dbt side tests not_null)."""
    return _as_float(series).to_numpy().astype(int)
