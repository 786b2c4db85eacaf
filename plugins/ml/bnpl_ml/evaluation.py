"""Scores against labels: ranking, calibration and the cut-offs a credit team would use."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    log_loss,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

# Share of rows flagged, highest scores first: "decline the riskiest 5 %".
TOP_SHARES = (0.05, 0.10, 0.20)
CALIBRATION_BINS = 10
# Curves are drawn, not stored in full: this many points each is plenty for a plot.
CURVE_POINTS = 200


def _round(value: float) -> float:
    return round(float(value), 6)


def calibration_table(y: np.ndarray, score: np.ndarray) -> list[dict[str, Any]]:
    """Deciles of the score (ties kept together): rows, mean predicted, observed rate."""
    order = np.argsort(score, kind="stable")
    rows = []
    for number, part in enumerate(np.array_split(order, CALIBRATION_BINS), start=1):
        if len(part) == 0:
            continue
        rows.append(
            {
                "decile": number,
                "rows": len(part),
                "mean_score": _round(score[part].mean()),
                "observed_rate": _round(y[part].mean()),
                "score_min": _round(score[part].min()),
                "score_max": _round(score[part].max()),
            }
        )
    return rows


def top_share_table(y: np.ndarray, score: np.ndarray) -> list[dict[str, Any]]:
    """Precision and recall when the top share of rows by score is flagged."""
    order = np.argsort(-score, kind="stable")
    positives = y.sum()
    rows = []
    for share in TOP_SHARES:
        flagged = max(1, math.ceil(share * len(y)))
        hits = y[order[:flagged]].sum()
        rows.append(
            {
                "top_share": share,
                "flagged": flagged,
                "threshold": _round(score[order[flagged - 1]]),
                "precision": _round(hits / flagged),
                "recall": _round(hits / positives) if positives else None,
            }
        )
    return rows


def metrics(y: np.ndarray, score: np.ndarray) -> dict[str, Any]:
    """Every figure the run stores for one model on one split."""
    clipped = np.clip(score, 1e-9, 1 - 1e-9)
    return {
        "rows": len(y),
        "positives": int(y.sum()),
        "positive_rate": _round(y.mean()),
        "roc_auc": _round(roc_auc_score(y, score)),
        "pr_auc": _round(average_precision_score(y, score)),
        "brier": _round(brier_score_loss(y, clipped)),
        "log_loss": _round(log_loss(y, clipped, labels=[0, 1])),
        "calibration": calibration_table(y, score),
        "top_shares": top_share_table(y, score),
    }


def _thin(x: np.ndarray, y: np.ndarray) -> tuple[list[float], list[float]]:
    keep = np.unique(np.linspace(0, len(x) - 1, min(len(x), CURVE_POINTS)).astype(int))
    return [_round(v) for v in x[keep]], [_round(v) for v in y[keep]]


def curves(y: np.ndarray, score: np.ndarray) -> dict[str, Any]:
    false_positive_rate, true_positive_rate, _ = roc_curve(y, score)
    precision, recall, _ = precision_recall_curve(y, score)
    roc_x, roc_y = _thin(false_positive_rate, true_positive_rate)
    pr_x, pr_y = _thin(recall[::-1], precision[::-1])
    return {"roc": {"fpr": roc_x, "tpr": roc_y}, "pr": {"recall": pr_x, "precision": pr_y}}


def auc_difference(
    y: np.ndarray, score: np.ndarray, baseline: np.ndarray, seed: int, resamples: int = 200
) -> dict[str, Any]:
    """ROC AUC of score minus that of baseline, with a paired bootstrap 95 % interval: how
    far the difference is from what resampling the same test rows would give anyway."""
    difference = roc_auc_score(y, score) - roc_auc_score(y, baseline)
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(resamples):
        sample = rng.integers(0, len(y), len(y))
        if y[sample].min() == y[sample].max():
            continue
        draws.append(
            roc_auc_score(y[sample], score[sample]) - roc_auc_score(y[sample], baseline[sample])
        )
    low, high = np.percentile(draws, [2.5, 97.5]) if draws else (math.nan, math.nan)
    return {
        "difference": _round(difference),
        "ci95_low": _round(low),
        "ci95_high": _round(high),
        "resamples": len(draws),
    }
