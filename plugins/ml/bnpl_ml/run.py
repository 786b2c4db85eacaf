"""One training run: read, check, fit the four models, score them, store, write the card."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from importlib.metadata import version
from typing import Any

import numpy as np
import pandas as pd

from bnpl_ml import card, data, evaluation, storage, training
from bnpl_ml.catalogue import Catalogue, build_catalogue, read_manifest
from bnpl_ml.config import MlError, TrainConfig
from bnpl_ml.features import label_vector

ALL_FEATURES = "all_features"
WITHOUT_PROXIES = "without_label_proxies"


def _catalogue(config: TrainConfig) -> tuple[Catalogue, list[str]]:
    columns = data.table_columns(config)
    catalogue = build_catalogue(
        read_manifest(config.manifest_path),
        config.model,
        config.training_set,
        columns,
        label=config.label_column,
        split=config.split_column,
    )
    if config.baseline_score_column not in columns:
        raise MlError(
            f"baseline_score_column: {config.baseline_score_column} is not a column of "
            f"{config.training_set}"
        )
    return catalogue, columns


def _splits(
    config: TrainConfig, catalogue: Catalogue, columns: list[str]
) -> tuple[dict[str, pd.DataFrame], dict[str, int]]:
    counts = data.split_counts(config, catalogue.split)
    for split in data.SPLITS:
        if not counts.get(split):
            raise MlError(
                f"split {split}: no rows in {config.training_set} with "
                f"{catalogue.split} = '{split}'"
            )
    needed = [
        *catalogue.features,
        *catalogue.label_proxies,
        catalogue.label,
        config.baseline_score_column,
    ]
    date_column = [config.date_column] if config.date_column in columns else []
    frame = data.load_rows(
        config, [*needed, *date_column], catalogue.split, [*date_column, *catalogue.columns("id")]
    )
    missing = int(frame[catalogue.label].isna().sum())
    if missing:
        raise MlError(
            f"label {catalogue.label}: {missing} rows without a value in the three splits"
        )
    parts = {
        split: frame[frame[catalogue.split] == split].reset_index(drop=True)
        for split in data.SPLITS
    }
    for split, part in parts.items():
        values = sorted(set(label_vector(part[catalogue.label]).tolist()))
        if len(values) < 2:
            raise MlError(
                f"split {split}: every row has {catalogue.label} = {bool(values[0])} "
                "(both classes are needed to fit and score a model)"
            )
    ignored = {k: v for k, v in counts.items() if k not in data.SPLITS}
    return parts, ignored


def _date_range(config: TrainConfig, part: pd.DataFrame) -> tuple[Any, Any]:
    if config.date_column not in part.columns:
        return None, None
    values = pd.to_datetime(part[config.date_column].astype(object)).dropna()
    return (values.min().date(), values.max().date()) if len(values) else (None, None)


def _comparison(
    config: TrainConfig, y_test: np.ndarray, scores: dict[str, np.ndarray]
) -> dict[str, Any]:
    baseline = f"{config.baseline_score_column}_only"
    result = evaluation.auc_difference(
        y_test, scores[WITHOUT_PROXIES], scores[baseline], config.seed
    )
    result["model"], result["baseline"] = WITHOUT_PROXIES, baseline
    result["beats_baseline"] = result["difference"] > 0
    verb = "beats" if result["beats_baseline"] else "does not beat"
    result["sentence"] = (
        f"The model without label proxies {verb} {config.baseline_score_column} alone on test "
        f"ROC AUC: difference {result['difference']:+.4f} (paired bootstrap 95% interval "
        f"{result['ci95_low']:+.4f} to {result['ci95_high']:+.4f})."
    )
    return result


def train(config: TrainConfig, now=lambda: datetime.now(UTC)) -> dict[str, Any]:
    """Run everything; returns the run as stored and rendered. Raises MlError on bad input."""
    started = now()
    run_id = f"{started:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    catalogue, columns = _catalogue(config)
    parts, ignored = _splits(config, catalogue, columns)
    y = {split: label_vector(part[catalogue.label]) for split, part in parts.items()}
    train_rows, valid_rows = parts["train"], parts["validation"]
    models = [
        training.prior_rate(y["train"]),
        training.baseline_score(train_rows, y["train"], config.baseline_score_column),
        training.gradient_boosting(
            ALL_FEATURES,
            [*catalogue.features, *catalogue.label_proxies],
            train_rows, y["train"], valid_rows, y["validation"], config.seed,
        ),
        training.gradient_boosting(
            WITHOUT_PROXIES, catalogue.features,
            train_rows, y["train"], valid_rows, y["validation"], config.seed,
        ),
    ]  # fmt: skip
    results, test_scores = [], {}
    for model in models:
        test_scores[model.name] = model.score(parts["test"])
        results.append(
            {
                "name": model.name,
                "features": model.features,
                "hyperparameters": model.hyperparameters,
                "importances": model.importances,
                "validation": evaluation.metrics(y["validation"], model.score(valid_rows)),
                "test": evaluation.metrics(y["test"], test_scores[model.name]),
                "curves": evaluation.curves(y["test"], test_scores[model.name]),
            }
        )
    splits = {}
    for split, part in parts.items():
        first, last = _date_range(config, part)
        splits[split] = {
            "rows": len(part),
            "positives": int(y[split].sum()),
            "first_date": first,
            "last_date": last,
        }
    first_date = min((s["first_date"] for s in splits.values() if s["first_date"]), default=None)
    last_date = max((s["last_date"] for s in splits.values() if s["last_date"]), default=None)
    finished = now()
    run = {
        "run_id": run_id,
        "started_at": started,
        "finished_at": finished,
        "duration_seconds": (finished - started).total_seconds(),
        "warehouse": config.warehouse,
        "training_set_table": config.training_set,
        "baseline_column": config.baseline_score_column,
        "first_date": first_date,
        "last_date": last_date,
        "splits": splits,
        "ignored_splits": ignored,
        "models": results,
        "comparison": _comparison(config, y["test"], test_scores),
        "catalogue": {
            "label": catalogue.label,
            "split": catalogue.split,
            "features": catalogue.features,
            "label_proxies": catalogue.label_proxies,
            "id": catalogue.columns("id"),
            "audit": catalogue.columns("audit"),
            "model_description": catalogue.model_description,
            "column_descriptions": catalogue.column_descriptions,
        },
    }
    run["card_path"], run["card_copy_path"] = _write_card(config, run)
    run["runs_table"] = storage.append_runs(config, _rows(run, catalogue))
    return run


def _write_card(config: TrainConfig, run: dict[str, Any]) -> tuple[str, str]:
    config.output_dir.mkdir(parents=True, exist_ok=True)
    html = card.render(run)
    latest = config.output_dir / "model_card.html"
    copy = config.output_dir / f"model_card_{run['run_id']}.html"
    copy.write_text(html, encoding="utf-8")
    latest.write_text(html, encoding="utf-8")
    return str(latest), str(copy)


def _rows(run: dict[str, Any], catalogue: Catalogue) -> list[dict[str, Any]]:
    versions = {name: version(name) for name in ("scikit-learn", "numpy", "pandas", "bnpl-ml")}
    splits = run["splits"]
    return [
        {
            "run_id": run["run_id"],
            "model": model["name"],
            "started_at": run["started_at"].replace(tzinfo=None),
            "finished_at": run["finished_at"].replace(tzinfo=None),
            "warehouse": run["warehouse"],
            "training_set_table": run["training_set_table"],
            "label_column": catalogue.label,
            "first_date": run["first_date"],
            "last_date": run["last_date"],
            "train_rows": splits["train"]["rows"],
            "validation_rows": splits["validation"]["rows"],
            "test_rows": splits["test"]["rows"],
            "test_roc_auc": model["test"]["roc_auc"],
            "test_pr_auc": model["test"]["pr_auc"],
            "test_brier": model["test"]["brier"],
            "splits": {**splits, "ignored": run["ignored_splits"]},
            "features": model["features"],
            "hyperparameters": model["hyperparameters"],
            "validation_metrics": model["validation"],
            "test_metrics": model["test"],
            "feature_importances": model["importances"],
            "comparison": run["comparison"],
            "model_card_path": run["card_copy_path"],
            "versions": versions,
        }
        for model in run["models"]
    ]
