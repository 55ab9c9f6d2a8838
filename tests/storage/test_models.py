"""The model registry: idempotent registration, typed feature columns, refused changes."""

from __future__ import annotations

import pytest

from storage import (
    InvalidIdentifierError,
    ModelInfo,
    SchemaConflictError,
    Store,
    normalize_class,
)
from storage.models import add_features, get_model, list_models, register_model


def _columns(store: Store, model: ModelInfo) -> dict[str, str]:
    rows = (
        store.cursor()
        .execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = ? ORDER BY ordinal_position",
            [model.table],
        )
        .fetchall()
    )
    return {r[0]: r[1] for r in rows}


def test_register_is_idempotent(store: Store) -> None:
    con = store.cursor()
    first = register_model(con, "churn", "binary", 1, {"age": "numeric"})
    again = register_model(con, "churn", "binary", 1, {"age": "numeric"})
    assert again.id == first.id
    assert again.features == {"age": "numeric"}
    assert again.positive_class == "1"
    assert con.execute("SELECT count(*) FROM models").fetchone() == (1,)
    assert con.execute("SELECT count(*) FROM model_features").fetchone() == (1,)
    assert get_model(con, "churn") == again
    assert [m.name for m in list_models(con)] == ["churn"]


def test_features_become_typed_columns(store: Store) -> None:
    con = store.cursor()
    model = register_model(con, "churn", "binary", None, {"age": "numeric", "plan": "categorical"})
    cols = _columns(store, model)
    assert cols["f_age"] == "DOUBLE"
    assert cols["f_plan"] == "VARCHAR"
    assert cols["prediction"] == "VARCHAR"
    assert cols["ts"] == "TIMESTAMP WITH TIME ZONE"
    described = {r[0]: r[1] for r in con.execute(f'DESCRIBE "{model.table}"').fetchall()}
    assert described["f_age"] == "DOUBLE"


def test_regression_predictions_are_numbers(store: Store) -> None:
    model = register_model(store.cursor(), "price", "regression")
    assert _columns(store, model)["prediction"] == "DOUBLE"


def test_adding_a_feature_adds_a_column_in_order(store: Store) -> None:
    con = store.cursor()
    model = register_model(con, "churn", "binary", None, {"age": "numeric"})
    model = add_features(con, model, {"age": "numeric", "city": "categorical"})
    assert list(model.features) == ["age", "city"]
    assert _columns(store, model)["f_city"] == "VARCHAR"
    stored = get_model(con, "churn")
    assert stored is not None and list(stored.features) == ["age", "city"]
    positions = con.execute("SELECT name, position FROM model_features ORDER BY name").fetchall()
    assert positions == [("age", 0), ("city", 1)]


def test_feature_kind_conflict_is_refused(store: Store) -> None:
    con = store.cursor()
    register_model(con, "churn", "binary", None, {"age": "numeric"})
    with pytest.raises(SchemaConflictError, match=r"'age'.*numeric, not categorical"):
        register_model(con, "churn", "binary", None, {"age": "categorical"})


@pytest.mark.parametrize(("old", "new"), [("binary", "regression"), ("regression", "multiclass")])
def test_task_cannot_switch_between_regression_and_classes(
    store: Store, old: str, new: str
) -> None:
    con = store.cursor()
    register_model(con, "m", old)
    with pytest.raises(SchemaConflictError, match="Register a new model name"):
        register_model(con, "m", new)
    stored = get_model(con, "m")
    assert stored is not None and stored.task == old


def test_binary_may_become_multiclass(store: Store) -> None:
    con = store.cursor()
    register_model(con, "m", "binary", "yes")
    updated = register_model(con, "m", "multiclass")
    assert updated.task == "multiclass"
    assert get_model(con, "m") == updated


@pytest.mark.parametrize(
    "name",
    ['x"; DROP TABLE models; --', "two words", "", "a" * 65, "-leading", "x'y", "é"],
)
def test_bad_model_names_are_refused(store: Store, name: str) -> None:
    con = store.cursor()
    with pytest.raises(InvalidIdentifierError, match="invalid model name"):
        register_model(con, name, "binary")
    assert con.execute("SELECT count(*) FROM models").fetchone() == (0,)


@pytest.mark.parametrize(
    "name", ['x"; DROP TABLE models; --', "has space", "", "b" * 64, "1st", "a-b"]
)
def test_bad_feature_names_are_refused(store: Store, name: str) -> None:
    con = store.cursor()
    with pytest.raises(InvalidIdentifierError, match="invalid feature name"):
        register_model(con, "m", "binary", None, {name: "numeric"})
    assert con.execute("SELECT count(*) FROM models").fetchone() == (0,)


def test_longest_names_are_accepted(store: Store) -> None:
    model = register_model(store.cursor(), "m" * 64, "binary", None, {"f" * 63: "numeric"})
    assert "f_" + "f" * 63 in _columns(store, model)


def test_bad_task_and_kind_name_the_choices(store: Store) -> None:
    con = store.cursor()
    with pytest.raises(InvalidIdentifierError, match="binary, multiclass, regression"):
        register_model(con, "m", "clustering")
    with pytest.raises(InvalidIdentifierError, match="'numeric' or 'categorical'"):
        register_model(con, "m", "binary", None, {"age": "integer"})


@pytest.mark.parametrize(
    ("value", "text"),
    [(1, "1"), (1.0, "1"), ("1", "1"), (True, "true"), (False, "false"), (2.5, "2.5"), ("a", "a")],
)
def test_normalize_class(value: object, text: str) -> None:
    assert normalize_class(value) == text
    assert normalize_class(1) == normalize_class(1.0) == normalize_class("1")
