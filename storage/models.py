"""The model registry: models, their feature schemas and their predictions tables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import duckdb

from storage.errors import InvalidIdentifierError, SchemaConflictError
from storage.identifiers import (
    check_feature_name,
    check_model_name,
    feature_column,
    predictions_table,
    quote,
)

TASKS = ("binary", "multiclass", "regression")
FEATURE_KINDS = {"numeric": "DOUBLE", "categorical": "VARCHAR"}


@dataclass(frozen=True)
class ModelInfo:
    """A registered model and its feature schema (in column order)."""

    id: int
    name: str
    task: str
    positive_class: str | None
    features: dict[str, str] = field(default_factory=dict)
    created_at: datetime | None = None

    @property
    def table(self) -> str:
        return predictions_table(self.id)

    @property
    def prediction_type(self) -> str:
        return "DOUBLE" if self.task == "regression" else "VARCHAR"

    def column(self, feature: str) -> str:
        return feature_column(feature)


def check_task(task: object) -> str:
    """Return a valid task name or raise with the allowed values."""
    if task not in TASKS:
        raise InvalidIdentifierError(f"invalid task {task!r}: use one of {', '.join(TASKS)}")
    return str(task)


def check_features(features: Mapping[str, object]) -> dict[str, str]:
    """Validate a feature schema {name: 'numeric'|'categorical'}."""
    checked: dict[str, str] = {}
    for name, kind in features.items():
        check_feature_name(name)
        if kind not in FEATURE_KINDS:
            raise InvalidIdentifierError(
                f"feature {name!r} has kind {kind!r}: use 'numeric' or 'categorical'"
            )
        checked[name] = str(kind)
    return checked


def get_model(con: duckdb.DuckDBPyConnection, name: str) -> ModelInfo | None:
    """The registered model called `name`, or None."""
    row = con.execute(
        "SELECT id, name, task, positive_class, created_at FROM models WHERE name = ?", [name]
    ).fetchone()
    if row is None:
        return None
    feats = con.execute(
        "SELECT name, kind FROM model_features WHERE model_id = ? ORDER BY position", [row[0]]
    ).fetchall()
    return ModelInfo(row[0], row[1], row[2], row[3], {n: k for n, k in feats}, row[4])


def list_models(con: duckdb.DuckDBPyConnection) -> list[ModelInfo]:
    """Every registered model, by name."""
    names = [r[0] for r in con.execute("SELECT name FROM models ORDER BY name").fetchall()]
    return [m for m in (get_model(con, n) for n in names) if m is not None]


def _create_predictions_table(con: duckdb.DuckDBPyConnection, model: ModelInfo) -> None:
    con.execute(
        f"CREATE TABLE {quote(model.table)} ("
        "event_id VARCHAR PRIMARY KEY, ts TIMESTAMPTZ NOT NULL, version VARCHAR NOT NULL, "
        f"prediction {model.prediction_type}, score DOUBLE, "
        "probabilities MAP(VARCHAR, DOUBLE), latency_ms DOUBLE, "
        "tags MAP(VARCHAR, VARCHAR), received_at TIMESTAMPTZ NOT NULL, "
        # The prediction's label, copied here on arrival (see storage.predictions).
        "label VARCHAR, label_value DOUBLE, label_ts TIMESTAMPTZ, labelled_at TIMESTAMPTZ)"
    )


def add_features(
    con: duckdb.DuckDBPyConnection, model: ModelInfo, features: Mapping[str, str]
) -> ModelInfo:
    """Add new features (one typed column each); a feature changing kind is an error."""
    features = check_features(features)
    new = {}
    for name, kind in features.items():
        have = model.features.get(name)
        if have is None:
            new[name] = kind
        elif have != kind:
            raise SchemaConflictError(
                f"feature {name!r} of model {model.name!r} is {have}, not {kind}: "
                "send it as the registered kind, or register a new model name"
            )
    position = len(model.features)
    for name, kind in new.items():
        con.execute(
            f"ALTER TABLE {quote(model.table)} ADD COLUMN "
            f"{quote(feature_column(name))} {FEATURE_KINDS[kind]}"
        )
        con.execute(
            "INSERT INTO model_features VALUES (?, ?, ?, ?, ?)",
            [model.id, name, kind, feature_column(name), position],
        )
        position += 1
    if not new:
        return model
    return ModelInfo(
        model.id,
        model.name,
        model.task,
        model.positive_class,
        {**model.features, **new},
        model.created_at,
    )


def register_model(
    con: duckdb.DuckDBPyConnection,
    name: str,
    task: str,
    positive_class: object = None,
    features: Mapping[str, str] | None = None,
) -> ModelInfo:
    """Create or update a model (idempotent); call inside a transaction."""
    check_model_name(name)
    check_task(task)
    features = check_features(features or {})  # before any write, so a bad name changes nothing
    positive = None if positive_class is None else normalize_class(positive_class)
    existing = get_model(con, name)
    if existing is None:
        row = con.execute(
            "INSERT INTO models (name, task, positive_class, created_at, updated_at) "
            "VALUES (?, ?, ?, now(), now()) RETURNING id, created_at",
            [name, task, positive],
        ).fetchone()
        assert row is not None
        model = ModelInfo(int(row[0]), name, task, positive, {}, row[1])
        _create_predictions_table(con, model)
    else:
        if (existing.task == "regression") != (task == "regression"):
            raise SchemaConflictError(
                f"model {name!r} is registered as {existing.task}; it cannot become {task} "
                "because its predictions are stored with another type. Register a new model name."
            )
        con.execute(
            "UPDATE models SET task = ?, positive_class = ?, updated_at = now() WHERE id = ?",
            [task, positive, existing.id],
        )
        model = ModelInfo(existing.id, name, task, positive, existing.features, existing.created_at)
    return add_features(con, model, features)


def normalize_class(value: object) -> str:
    """The stored text of a class label: 1, 1.0 and "1" are the same class."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
