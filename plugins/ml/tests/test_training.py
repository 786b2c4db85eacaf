"""The model on generated data: it finds a planted signal and finds nothing where there is none."""

from __future__ import annotations

import datagen
from bnpl_ml.run import train


def by_name(run) -> dict:
    return {model["name"]: model for model in run["models"]}


def test_the_model_finds_a_planted_signal(make_config) -> None:
    run = train(make_config())
    models = by_name(run)
    auc = {name: model["test"]["roc_auc"] for name, model in models.items()}
    assert auc["prior"] == 0.5
    # risk_score sees a tenth of the signal under noise; the model sees all of it.
    assert 0.52 < auc["risk_score_only"] < 0.65
    assert auc["without_label_proxies"] > 0.8
    assert auc["without_label_proxies"] > auc["risk_score_only"] + 0.15
    # The proxy carries part of the label, so the model that reads it does better still.
    assert auc["all_features"] > auc["without_label_proxies"]
    assert run["comparison"]["beats_baseline"] is True
    assert run["comparison"]["ci95_low"] > 0.1
    # The planted features lead the permutation importances; the proxy only where it is read.
    top = [row["feature"] for row in models["without_label_proxies"]["importances"][:2]]
    assert set(top) == {"signal_feature", "segment"}
    assert "risk_scenario" not in models["without_label_proxies"]["features"]
    assert "risk_scenario" in models["all_features"]["features"]


def test_without_a_signal_the_model_scores_like_a_coin(make_config) -> None:
    run = train(make_config(frame=datagen.training_rows(rows=20_000, signal=False)))
    auc = {name: model["test"]["roc_auc"] for name, model in by_name(run).items()}
    assert abs(auc["without_label_proxies"] - 0.5) < 0.05
    assert abs(auc["all_features"] - 0.5) < 0.05
    # The bootstrap interval of the difference spans zero: no claim either way.
    assert run["comparison"]["ci95_low"] < 0 < run["comparison"]["ci95_high"]


def test_the_cut_offs_and_calibration_add_up(make_config) -> None:
    run = train(make_config())
    test = by_name(run)["without_label_proxies"]["test"]
    assert (
        sum(row["rows"] for row in test["calibration"])
        == test["rows"]
        == run["splits"]["test"]["rows"]
    )
    assert [row["top_share"] for row in test["top_shares"]] == [0.05, 0.10, 0.20]
    recalls = [row["recall"] for row in test["top_shares"]]
    assert recalls == sorted(recalls)
    # Deciles of a useful score: the riskiest tenth defaults far more often than the safest.
    assert test["calibration"][-1]["observed_rate"] > 5 * test["calibration"][0]["observed_rate"]
