"""``bnpl-ml train``.

Every option falls back to an environment variable, which is how Meltano hands the
utility's settings over (plugins/ml.meltano.yml maps each setting to the name below).
Exit codes: 0 the run was stored (whatever the figures say), 1 it could not be made.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from bnpl_ml.config import WAREHOUSES, MlError, TrainConfig

ENV = {
    "warehouse": "BNPL_ML_WAREHOUSE",
    "duckdb_path": "BNPL_DUCKDB_PATH",
    "bigquery_project": "BNPL_GCP_PROJECT",
    "bigquery_location": "BNPL_BQ_LOCATION",
    "manifest": "BNPL_ML_MANIFEST_PATH",
    "model": "BNPL_ML_MODEL",
    "training_set_table": "BNPL_ML_TRAINING_SET_TABLE",
    "runs_table": "BNPL_ML_RUNS_TABLE",
    "output_dir": "BNPL_ML_OUTPUT_DIR",
    "label_column": "BNPL_ML_LABEL_COLUMN",
    "split_column": "BNPL_ML_SPLIT_COLUMN",
    "baseline_score_column": "BNPL_ML_BASELINE_SCORE_COLUMN",
    "date_column": "BNPL_ML_DATE_COLUMN",
    "seed": "BNPL_ML_SEED",
}
# The option `manifest` fills TrainConfig.manifest_path; every other option its namesake.
_FIELDS = {"manifest": "manifest_path"}


def _default(name: str) -> str | None:
    value = TrainConfig.__dataclass_fields__[_FIELDS.get(name, name)].default
    return None if value is None else str(value)


# TrainConfig holds each default once; the options show them and fall back to them.
DEFAULTS = {name: default for name in ENV if (default := _default(name)) is not None}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bnpl-ml", description="Default model on the BNPL ML training set."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser(
        "train",
        help="fit, tune and score the models; append to ml.model_runs; write the model card",
    )
    for name in ENV:
        flag = "--" + name.replace("_", "-")
        default = DEFAULTS.get(name)
        hint = f"[{ENV[name]}" + (f"; {default}]" if default else "]")
        if name == "warehouse":
            train.add_argument(flag, choices=WAREHOUSES, help=hint)
        else:
            train.add_argument(flag, help=hint)
    return parser


def config_from(args: argparse.Namespace) -> TrainConfig:
    def setting(name: str) -> str | None:
        value = getattr(args, name)
        if value in (None, ""):
            value = os.environ.get(ENV[name]) or DEFAULTS.get(name)
        return value

    seed_text = setting("seed")
    try:
        seed = int(seed_text)
    except ValueError as exc:
        raise MlError(f"seed: {seed_text!r} is not an integer") from exc
    return TrainConfig(
        warehouse=setting("warehouse"),
        duckdb_path=Path(setting("duckdb_path")),
        bigquery_project=setting("bigquery_project"),
        bigquery_location=setting("bigquery_location"),
        manifest_path=Path(setting("manifest")),
        model=setting("model"),
        training_set_table=setting("training_set_table"),
        runs_table=setting("runs_table"),
        output_dir=Path(setting("output_dir")),
        label_column=setting("label_column"),
        split_column=setting("split_column"),
        baseline_score_column=setting("baseline_score_column"),
        date_column=setting("date_column"),
        seed=seed,
    )


def summary(run: dict) -> str:
    lines = [
        f"bnpl-ml train: run {run['run_id']} ({run['duration_seconds']:.0f} s), "
        f"{run['training_set_table']} {run['first_date']}..{run['last_date']}",
        "  rows: "
        + ", ".join(
            f"{name} {info['rows']} ({info['positives']} defaults)"
            for name, info in run["splits"].items()
        ),
    ]
    for model in run["models"]:
        test = model["test"]
        lines.append(
            f"  {model['name']:<24} test ROC AUC {test['roc_auc']:.4f}  PR AUC "
            f"{test['pr_auc']:.4f}  Brier {test['brier']:.5f}"
        )
    lines += [
        f"  {run['comparison']['sentence']}",
        f"  model card: {run['card_path']}; runs: {run['runs_table']} (+{len(run['models'])} rows)",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = config_from(args)
        from bnpl_ml.run import train  # the heavy imports only once the settings are valid

        run = train(config)
    except MlError as exc:
        print(f"bnpl-ml: {exc}", file=sys.stderr)
        return 1
    print(summary(run))
    return 0


if __name__ == "__main__":
    sys.exit(main())
