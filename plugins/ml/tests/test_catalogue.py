"""Columns are picked by their meta.ml_role in dbt's manifest, and only by it."""

from __future__ import annotations

import datagen
import pytest
from bnpl_ml.catalogue import build_catalogue
from bnpl_ml.config import MlError

TABLE_COLUMNS = list(datagen.ROLES)


def catalogue(manifest, columns=TABLE_COLUMNS):
    return build_catalogue(manifest, "mart_bnpl_ml_training_set", datagen.TABLE, columns)


@pytest.mark.parametrize("under_config", [False, True], ids=["meta", "config.meta"])
def test_roles_come_from_the_manifest(under_config: bool) -> None:
    picked = catalogue(datagen.manifest(under_config=under_config))
    assert picked.features == [
        "amount",
        "signal_feature",
        "segment",
        "device_is_trusted",
        "risk_score",
    ]
    assert picked.label_proxies == ["risk_scenario"]
    assert (picked.label, picked.split) == ("will_default", "dataset_split")
    assert picked.columns("audit") == ["days_to_first_missed_payment", "dbt_updated_at"]
    assert picked.column_descriptions["amount"] == "amount (generated)"


def test_a_role_change_in_dbt_changes_the_features() -> None:
    roles = {**datagen.ROLES, "amount": "audit", "risk_score": "label_proxy"}
    picked = catalogue(datagen.manifest(roles))
    assert picked.features == ["signal_feature", "segment", "device_is_trusted"]
    assert picked.label_proxies == ["risk_score", "risk_scenario"]


def test_a_column_without_a_role_is_an_error_naming_it() -> None:
    roles = {**datagen.ROLES, "segment": None}
    with pytest.raises(
        MlError, match=r"^column segment of mart_bnpl_ml_training_set: no meta\.ml_role"
    ):
        catalogue(datagen.manifest(roles))


def test_an_unknown_role_is_an_error_naming_it() -> None:
    roles = {**datagen.ROLES, "amount": "featrue"}
    with pytest.raises(
        MlError, match=r"column amount .*ml_role 'featrue' is not one of id, feature"
    ):
        catalogue(datagen.manifest(roles))


def test_a_table_column_missing_from_the_manifest_is_an_error() -> None:
    with pytest.raises(
        MlError, match=r"^column new_column of marts\.mart_bnpl_ml_training_set is not documented"
    ):
        catalogue(datagen.manifest(), [*TABLE_COLUMNS, "new_column"])


def test_a_manifest_column_missing_from_the_table_is_an_error() -> None:
    with pytest.raises(
        MlError,
        match=r"^column amount of mart_bnpl_ml_training_set is in the dbt manifest but not in",
    ):
        catalogue(datagen.manifest(), [c for c in TABLE_COLUMNS if c != "amount"])


def test_a_second_label_is_neither_a_feature_nor_the_target() -> None:
    roles = {**datagen.ROLES, "days_to_first_missed_payment": "label"}
    picked = catalogue(datagen.manifest(roles))
    assert picked.label == "will_default"
    assert "days_to_first_missed_payment" not in picked.features + picked.label_proxies


def test_the_label_column_must_have_the_label_role() -> None:
    roles = {**datagen.ROLES, "will_default": "audit"}
    with pytest.raises(
        MlError, match=r"^label_column: will_default is not a column of .* with ml_role label"
    ):
        catalogue(datagen.manifest(roles))


def test_the_split_column_must_have_the_split_role() -> None:
    with pytest.raises(
        MlError, match=r"^split_column: amount is not a column of .* with ml_role split"
    ):
        build_catalogue(
            datagen.manifest(),
            "mart_bnpl_ml_training_set",
            datagen.TABLE,
            TABLE_COLUMNS,
            split="amount",
        )


def test_a_manifest_without_the_model_is_an_error() -> None:
    with pytest.raises(MlError, match=r"^model: mart_bnpl_ml_training_set is not a model"):
        catalogue({"nodes": {}})
