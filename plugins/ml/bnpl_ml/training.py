"""The models of one run: fitted on train, tuned on validation, never shown test.

Gradient boosting (scikit-learn's HistGradientBoostingClassifier) with a small grid over
tree size and leaf size; each candidate stops growing trees once the validation log loss
has not improved for PATIENCE trees (early stopping on the time-based validation days, not
on a random slice of the training days). The candidate with the lowest validation log
loss wins: a proper scoring rule, so ranking and calibration both count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss

from bnpl_ml.features import FeatureEncoder

GRID = (
    {"max_leaf_nodes": 15, "min_samples_leaf": 100},
    {"max_leaf_nodes": 15, "min_samples_leaf": 400},
    {"max_leaf_nodes": 31, "min_samples_leaf": 100},
    {"max_leaf_nodes": 31, "min_samples_leaf": 400},
)
LEARNING_RATE = 0.1
MAX_TREES = 500
# Trees without a better validation log loss before a candidate stops growing.
PATIENCE = 10
# Permutation importance reads at most this many validation rows, three shuffles each.
IMPORTANCE_ROWS = 20_000
IMPORTANCE_REPEATS = 3


@dataclass
class FittedModel:
    """A scorer with what the run stores about it."""

    name: str
    features: list[str]
    hyperparameters: dict[str, Any]
    encoder: FeatureEncoder | None = None
    estimator: Any = None
    constant: float | None = None
    baseline_column: str | None = None
    importances: list[dict[str, Any]] = field(default_factory=list)

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        if self.constant is not None:
            return np.full(len(frame), self.constant)
        if self.baseline_column is not None:
            return self.estimator.predict_proba(_baseline_matrix(frame, self.baseline_column))[:, 1]
        return self.estimator.predict_proba(self.encoder.transform(frame))[:, 1]


def prior_rate(y_train: np.ndarray) -> FittedModel:
    rate = float(y_train.mean())
    return FittedModel("prior", [], {"positive_rate": rate}, constant=rate)


def _baseline_matrix(frame: pd.DataFrame, column: str) -> np.ndarray:
    values = pd.to_numeric(frame[column].astype(object), errors="coerce").astype("float64")
    # A missing score is scored as the middle of the range rather than dropped.
    return values.fillna(values.median() if values.notna().any() else 0.0).to_numpy()[:, None]


def baseline_score(train: pd.DataFrame, y_train: np.ndarray, column: str) -> FittedModel:
    """The score alone, mapped to a probability by a one-variable logistic fit on train.

    The map is monotone, so the ROC AUC is the raw score's own (unless the fit finds it
    points the wrong way); it only makes the Brier score and calibration comparable."""
    estimator = LogisticRegression().fit(_baseline_matrix(train, column), y_train)
    return FittedModel(
        f"{column}_only",
        [column],
        {"coefficient": float(estimator.coef_[0][0]), "intercept": float(estimator.intercept_[0])},
        estimator=estimator,
        baseline_column=column,
    )


def _grow(
    params: dict[str, Any], x_train, y_train, x_valid, y_valid, seed: int
) -> tuple[HistGradientBoostingClassifier, float, int]:
    """One grid point, grown until the validation log loss stops improving."""
    model = HistGradientBoostingClassifier(
        learning_rate=LEARNING_RATE,
        max_iter=MAX_TREES,
        early_stopping=True,
        scoring="loss",
        n_iter_no_change=PATIENCE,
        random_state=seed,
        categorical_features="from_dtype",
        **params,
    ).fit(x_train, y_train, X_val=x_valid, y_val=y_valid)
    loss = log_loss(y_valid, model.predict_proba(x_valid)[:, 1], labels=[0, 1])
    return model, float(loss), int(model.n_iter_)


def gradient_boosting(
    name: str,
    features: Sequence[str],
    train: pd.DataFrame,
    y_train: np.ndarray,
    validation: pd.DataFrame,
    y_valid: np.ndarray,
    seed: int,
) -> FittedModel:
    encoder = FeatureEncoder.fit(train, features)
    x_train, x_valid = encoder.transform(train), encoder.transform(validation)
    candidates, models = [], []
    for params in GRID:
        model, loss, trees = _grow(params, x_train, y_train, x_valid, y_valid, seed)
        candidates.append({"params": params, "trees": trees, "validation_log_loss": loss})
        models.append(model)
    best_index = min(range(len(GRID)), key=lambda i: candidates[i]["validation_log_loss"])
    chosen, best = candidates[best_index], models[best_index]
    fitted = FittedModel(
        name,
        list(features),
        {
            "learning_rate": LEARNING_RATE,
            **chosen["params"],
            "trees": chosen["trees"],
            "grid": candidates,
        },
        encoder=encoder,
        estimator=best,
    )
    fitted.importances = _importances(best, x_valid, y_valid, seed)
    return fitted


def _importances(model, x_valid: pd.DataFrame, y_valid: np.ndarray, seed: int) -> list[dict]:
    """Permutation importance on validation: the ROC AUC lost when a column is shuffled."""
    rows = np.random.default_rng(seed).permutation(len(x_valid))[:IMPORTANCE_ROWS]
    result = permutation_importance(
        model,
        x_valid.iloc[rows],
        y_valid[rows],
        scoring="roc_auc",
        n_repeats=IMPORTANCE_REPEATS,
        random_state=seed,
    )
    ranked = sorted(
        zip(x_valid.columns, result.importances_mean, result.importances_std, strict=True),
        key=lambda item: -item[1],
    )
    return [
        {"feature": column, "auc_drop": round(float(mean), 6), "std": round(float(std), 6)}
        for column, mean, std in ranked
    ]
