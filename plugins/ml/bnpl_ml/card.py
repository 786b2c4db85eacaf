"""The HTML model card: curves, calibration, top features, metrics and what they rest on.

Self-contained: every figure is a PNG inlined as base64, so the file can be mailed or
archived on its own.
"""

from __future__ import annotations

import base64
import io
from html import escape
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on a scheduler; must precede pyplot
import matplotlib.pyplot as plt

TOP_FEATURES = 15


def _png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="" src="data:image/png;base64,{encoded}">'


def _curve_figure(models: list[dict[str, Any]], kind: str) -> str:
    figure, axes = plt.subplots(figsize=(5.2, 4.2))
    for model in models:
        curve = model["curves"][kind]
        if kind == "roc":
            axes.plot(
                curve["fpr"],
                curve["tpr"],
                label=f"{model['name']} ({model['test']['roc_auc']:.3f})",
            )
        else:
            axes.plot(
                curve["recall"],
                curve["precision"],
                label=f"{model['name']} ({model['test']['pr_auc']:.3f})",
            )
    if kind == "roc":
        axes.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
        axes.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC, test")
    else:
        axes.set(xlabel="recall", ylabel="precision", title="Precision-recall, test")
    axes.legend(fontsize=8)
    return _png(figure)


def _calibration_figure(models: list[dict[str, Any]]) -> str:
    figure, axes = plt.subplots(figsize=(5.2, 4.2))
    highest = 0.0
    for model in models:
        table = model["test"]["calibration"]
        predicted = [row["mean_score"] for row in table]
        observed = [row["observed_rate"] for row in table]
        highest = max([highest, *predicted, *observed])
        axes.plot(predicted, observed, marker="o", label=model["name"])
    axes.plot([0, highest], [0, highest], color="grey", linestyle=":", linewidth=1)
    axes.set(
        xlabel="mean predicted (decile)", ylabel="observed default rate", title="Calibration, test"
    )
    axes.legend(fontsize=8)
    return _png(figure)


def _importance_figure(model: dict[str, Any]) -> str:
    top = model["importances"][:TOP_FEATURES][::-1]
    figure, axes = plt.subplots(figsize=(5.2, 0.28 * len(top) + 1.2))
    axes.barh(
        [row["feature"] for row in top],
        [row["auc_drop"] for row in top],
        xerr=[row["std"] for row in top],
    )
    axes.set(xlabel="validation ROC AUC lost when shuffled", title=f"Top features: {model['name']}")
    return _png(figure)


def _optional(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _metrics_table(models: list[dict[str, Any]]) -> str:
    shares = [row["top_share"] for row in models[0]["test"]["top_shares"]]
    head = "".join(f"<th>precision / recall @ top {share:.0%}</th>" for share in shares)
    lines = [
        "<table><tr><th>model</th><th>features</th><th>ROC AUC (validation)</th>"
        f"<th>ROC AUC</th><th>PR AUC</th><th>Brier</th><th>log loss</th>{head}</tr>"
    ]
    for model in models:
        test = model["test"]
        cells = "".join(
            f"<td>{row['precision']:.3f} / {_optional(row['recall'])}</td>"
            for row in test["top_shares"]
        )
        lines.append(
            f"<tr><td>{escape(model['name'])}</td><td>{len(model['features'])}</td>"
            f"<td>{model['validation']['roc_auc']:.3f}</td><td><b>{test['roc_auc']:.3f}</b></td>"
            f"<td>{test['pr_auc']:.3f}</td><td>{test['brier']:.4f}</td><td>{test['log_loss']:.4f}</td>"
            f"{cells}</tr>"
        )
    return "\n".join([*lines, "</table>"])


def _calibration_table(model: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{row['decile']}</td><td>{row['rows']}</td><td>{row['mean_score']:.4f}</td>"
        f"<td>{row['observed_rate']:.4f}</td></tr>"
        for row in model["test"]["calibration"]
    )
    return (
        f"<h3>{escape(model['name'])}</h3><table><tr><th>decile</th><th>rows</th>"
        f"<th>mean predicted</th><th>observed rate</th></tr>{rows}</table>"
    )


def _names(columns: list[str]) -> str:
    return ", ".join(f"<code>{escape(c)}</code>" for c in columns) or "none"


STYLE = """
body { font-family: sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.figures img { margin: 0 1em 1em 0; vertical-align: top; }
.verdict { font-size: 1.1em; padding: 0.6em 1em; background: #f3f3f3; border-left: 4px solid #555; }
"""


def render(run: dict[str, Any]) -> str:
    """The card for one run (the dict run.py builds)."""
    models = run["models"]
    scored = [m for m in models if m["name"] != "prior"]
    boosted = [m for m in models if m["importances"]]
    comparison = run["comparison"]
    catalogue = run["catalogue"]
    split_rows = "".join(
        f"<tr><td>{escape(name)}</td><td>{info['rows']}</td><td>{info['positives']}</td>"
        f"<td>{info['first_date'] or ''}</td><td>{info['last_date'] or ''}</td></tr>"
        for name, info in run["splits"].items()
    )
    ignored = run["ignored_splits"]
    ignored_text = (
        ", ".join(f"{escape(k)}: {v} rows" for k, v in sorted(ignored.items()))
        if ignored
        else "none"
    )
    split_description = catalogue["column_descriptions"].get(catalogue["split"], "")
    label_description = catalogue["column_descriptions"].get(catalogue["label"], "")
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Model card: {escape(run["run_id"])}</title>
<style>{STYLE}</style></head><body>
<h1>Default model card</h1>
<p>Run <code>{escape(run["run_id"])}</code>, {run["started_at"]:%Y-%m-%d %H:%M:%S} UTC
({run["duration_seconds"]:.0f} s). Training set <code>{escape(run["training_set_table"])}</code>
({escape(run["warehouse"])}), transactions {run["first_date"]} to {run["last_date"]}.
Label <code>{escape(catalogue["label"])}</code>.</p>

<p class="verdict">{escape(comparison["sentence"])}</p>

<h2>Metrics (test)</h2>
{_metrics_table(models)}
<p>Brier score and log loss: lower is better. Precision / recall at top k %: the share of
flagged transactions that default, and the share of defaults flagged, when the k % with the
highest scores are flagged. <code>{escape(run["baseline_column"])}_only</code> is simtom's
own score, mapped to a probability by a one-variable logistic fit on train (monotone, so its
ranking is the score's own).</p>

<div class="figures">
{_curve_figure(scored, "roc")}
{_curve_figure(scored, "pr")}
{_calibration_figure(models)}
</div>

<h2>Top features</h2>
<p>Permutation importance on the validation days: the ROC AUC lost when one column is
shuffled (mean of three shuffles; bars show the spread).</p>
<div class="figures">{"".join(_importance_figure(m) for m in boosted)}</div>

<h2>Calibration by decile (test)</h2>
{"".join(_calibration_table(m) for m in scored)}

<h2>Data and split</h2>
<table><tr><th>split</th><th>rows</th><th>defaults</th><th>first day</th><th>last day</th></tr>
{split_rows}</table>
<p>Rows with another <code>{escape(catalogue["split"])}</code> value, left out: {ignored_text}.</p>
<p><b>Split and label maturity.</b> The split is made by dbt, by whole days, oldest first:
train, then validation, then test, so every model is scored on days after the ones it
learned from. Gradient boosting is fitted on train only; validation picks the tree size
(early stopping) and the grid point (lowest validation log loss) and feeds the permutation
importances; test is read once, for the figures above. A label is only used once it is
mature, i.e. once enough time has passed since the purchase for a default to have shown;
rows whose label is not yet mature carry another split value and are left out (counted
above). What dbt documents for the split column: {escape(split_description) or "(no description)"}
What it documents for the label: {escape(label_description) or "(no description)"}</p>
<p><b>The training set as dbt describes it.</b> {escape(catalogue["model_description"])}</p>

<h2>Customer scope: one request window</h2>
<p>simtom draws its customers anew for every request window: a customer key is a hash of
one request body, so every transaction of a customer lies inside one window (the tap's
<code>window_days</code>). History features (<code>prior_*</code>, seconds since the previous
transaction, the 7-day counts) therefore only see a customer's earlier transactions in the
same window, and a returning customer starts again with no history at each window
boundary. Scores on real traffic, with longer histories, would differ.</p>

<h2>Label proxies: why excluded</h2>
<p>Columns with <code>ml_role: label_proxy</code> in the dbt project:
{_names(catalogue["label_proxies"])}. They are present at decision time, but simtom draws
the default from its own risk score (the scenario and score it simulates), so these
columns are the generator's answer rather than anything a lender could observe about a
customer: a model reading them learns simtom, not the customer. <code>all_features</code>
shows how far they carry; <code>without_label_proxies</code> is the model the comparison
at the top is about, and <code>{escape(run["baseline_column"])}_only</code> is the bar it
has to clear.</p>

<h2>Features</h2>
<p><b>feature</b> ({len(catalogue["features"])}): {_names(catalogue["features"])}</p>
<p><b>id / audit</b> (never read by a model): {_names(catalogue["id"] + catalogue["audit"])}</p>
</body></html>
"""
