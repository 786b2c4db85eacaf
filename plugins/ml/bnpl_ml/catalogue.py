"""Column roles from dbt's manifest: which columns are features, the label, the split.

The dbt project documents every column of the training set with `meta.ml_role`; the model
is trained from those roles, never from a list kept here, so a column added to the mart
without a role stops the run instead of silently becoming a feature (or a leak).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bnpl_ml.config import MlError

ROLES = ("id", "feature", "label", "label_proxy", "split", "audit")


@dataclass(frozen=True)
class Catalogue:
    """The training set's columns in table order, each with its role."""

    model: str
    roles: dict[str, str]
    model_description: str
    column_descriptions: dict[str, str]
    label: str
    split: str

    def columns(self, role: str) -> list[str]:
        return [column for column, its_role in self.roles.items() if its_role == role]

    @property
    def features(self) -> list[str]:
        return self.columns("feature")

    @property
    def label_proxies(self) -> list[str]:
        return self.columns("label_proxy")


def read_manifest(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise MlError(
            f"manifest_path: {path} does not exist (expected dbt's manifest.json, written by "
            "`dbt parse` or any dbt build; set BNPL_ML_MANIFEST_PATH)"
        )
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MlError(f"manifest_path: {path} is not readable JSON ({exc})") from exc


def _model_node(manifest: dict[str, Any], model: str) -> dict[str, Any]:
    for node in manifest.get("nodes", {}).values():
        if node.get("resource_type") == "model" and node.get("name") == model:
            return node
    raise MlError(f"model: {model} is not a model in the dbt manifest")


def _role(column: dict[str, Any]) -> Any:
    # dbt copies column meta into config.meta (1.10+) and keeps the top-level meta; the
    # top level is read first, config is the fallback for a meta given only under config.
    for meta in (column.get("meta") or {}, (column.get("config") or {}).get("meta") or {}):
        if "ml_role" in meta:
            return meta["ml_role"]
    return None


def build_catalogue(
    manifest: dict[str, Any],
    model: str,
    table: str,
    table_columns: Sequence[str],
    label: str = "will_default",
    split: str = "dataset_split",
) -> Catalogue:
    """Every table column with its role; raises MlError naming the first column that has none.

    A model may document more than one outcome (role label) and more than one column that
    decides the split (role split); LABEL and SPLIT name the ones this run uses, and each
    must carry that role.
    """
    node = _model_node(manifest, model)
    documented = {name.lower(): column for name, column in (node.get("columns") or {}).items()}
    roles: dict[str, str] = {}
    for name in table_columns:
        column = documented.get(name.lower())
        if column is None:
            raise MlError(
                f"column {name} of {table} is not documented in the dbt manifest's {model} "
                f"(every column needs meta.ml_role, one of {', '.join(ROLES)})"
            )
        role = _role(column)
        if role is None:
            raise MlError(
                f"column {name} of {model}: no meta.ml_role (expected one of {', '.join(ROLES)})"
            )
        if role not in ROLES:
            raise MlError(
                f"column {name} of {model}: ml_role {role!r} is not one of {', '.join(ROLES)}"
            )
        roles[name] = role
    in_table = {name.lower() for name in table_columns}
    for name in documented:
        if name not in in_table:
            raise MlError(
                f"column {name} of {model} is in the dbt manifest but not in {table} "
                "(rebuild the marts, or the manifest is from other code)"
            )
    for setting, column, role in (
        ("label_column", label, "label"),
        ("split_column", split, "split"),
    ):
        if roles.get(column) != role:
            found = [name for name, its_role in roles.items() if its_role == role]
            raise MlError(
                f"{setting}: {column} is not a column of {model} with ml_role {role} "
                f"(columns with that role: {', '.join(found) or 'none'})"
            )
    if not any(role == "feature" for role in roles.values()):
        raise MlError(f"{model}: no column has ml_role feature")
    return Catalogue(
        model=model,
        roles=roles,
        model_description=" ".join((node.get("description") or "").split()),
        column_descriptions={
            name: " ".join((documented[name.lower()].get("description") or "").split())
            for name in roles
        },
        label=label,
        split=split,
    )
