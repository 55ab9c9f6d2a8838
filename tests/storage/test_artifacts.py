"""storage.artifacts against a real DuckDB file: the migration, upsert, reads and checks."""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from collectors.ingest import IngestService
from collectors.metrics import ServerMetrics
from storage import ModelInfo, Store, Writer
from storage.artifacts import ArtifactInfo, get_artifact, list_artifacts, save_artifact

FEATURES = {"x": "numeric", "region": "categorical"}
SHA = hashlib.sha256(b"model").hexdigest()


def save(writer: Writer, model: ModelInfo, version: str, **kwargs: Any) -> ArtifactInfo:
    values: dict[str, Any] = {
        "sha256": SHA,
        "path": f"artifacts/{model.name}/{version}-{SHA}.joblib",
        "size_bytes": 1234,
        "estimator": "Pipeline(ColumnTransformer, GradientBoostingClassifier)",
        "explainer": "tree",
        "units": "log-odds",
    } | kwargs
    return writer.run(lambda con: save_artifact(con, model, version, **values))


@pytest.fixture
def model(ingest: IngestService) -> ModelInfo:
    return ingest.register("churn", {"task": "binary", "features": FEATURES})


def test_the_migration_creates_the_artifacts_table(store: Store) -> None:
    assert 5 in store.applied_migrations
    name = store.cursor().execute("SELECT name FROM schema_migrations WHERE version = 5").fetchall()
    assert name == [("explanations",)]
    columns = (
        store.cursor()
        .execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = 'model_artifacts' "
            "ORDER BY column_index"
        )
        .fetchall()
    )
    assert [c[0] for c in columns] == [
        "model_id", "version", "sha256", "path", "size_bytes", "estimator", "explainer",
        "units", "uploaded_at",
    ]  # fmt: skip


def test_save_and_get_round_trip(writer: Writer, store: Store, model: ModelInfo) -> None:
    info = save(writer, model, "v1")
    assert (info.model, info.version, info.sha256, info.size_bytes) == ("churn", "v1", SHA, 1234)
    assert info.path == f"artifacts/churn/v1-{SHA}.joblib"
    assert (info.explainer, info.units) == ("tree", "log-odds")
    assert isinstance(info.uploaded_at, datetime) and info.uploaded_at.tzinfo is not None
    assert get_artifact(store.cursor(), model, "v1") == info
    assert get_artifact(store.cursor(), model, "v2") is None
    as_dict = info.as_dict()
    assert as_dict["uploaded_at"] == info.uploaded_at.isoformat()
    assert as_dict["model"] == "churn" and as_dict["size_bytes"] == 1234


def test_save_replaces_the_same_version(writer: Writer, store: Store, model: ModelInfo) -> None:
    first = save(writer, model, "v1")
    other = hashlib.sha256(b"retrained").hexdigest().upper()  # stored lower-case
    second = save(writer, model, "v1", sha256=other, explainer="permutation", units="probability")
    assert second.sha256 == other.lower() and second.explainer == "permutation"
    assert second.uploaded_at >= first.uploaded_at
    assert list_artifacts(store.cursor(), model) == [second]


def test_list_is_by_version_and_per_model(
    ingest: IngestService, writer: Writer, store: Store, model: ModelInfo
) -> None:
    other = ingest.register("fraud", {"task": "binary", "features": FEATURES})
    for version in ("v2", "v1", "v3"):
        save(writer, model, version)
    save(writer, other, "v9")
    assert [a.version for a in list_artifacts(store.cursor(), model)] == ["v1", "v2", "v3"]
    assert [(a.model, a.version) for a in list_artifacts(store.cursor(), other)] == [
        ("fraud", "v9")
    ]
    assert get_artifact(store.cursor(), other, "v1") is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sha256": "abc"}, "sha256 must be 64 hexadecimal digits"),
        ({"path": "/etc/model.joblib"}, "must be relative to the data directory"),
        ({"path": "artifacts/../../x.joblib"}, "must be relative to the data directory"),
        ({"path": "C:\\models\\m.joblib"}, "must be relative to the data directory"),
        ({"size_bytes": -1}, "size_bytes must be a non-negative integer"),
        ({"estimator": ""}, "estimator must be a non-empty string"),
        ({"units": None}, "units must be a non-empty string"),
    ],
)
def test_save_refuses_bad_values(
    writer: Writer, store: Store, model: ModelInfo, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        save(writer, model, "v1", **kwargs)
    with pytest.raises(ValueError, match="version must be a non-empty string"):
        save(writer, model, "")
    assert list_artifacts(store.cursor(), model) == []


def test_artifacts_survive_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "v.duckdb"
    with Store(path) as store:
        writer = Writer(store)
        try:
            ingest = IngestService(store, writer, ServerMetrics())
            model = ingest.register("m", {"task": "regression", "features": FEATURES})
            saved = save(writer, model, "1", units="raw")
        finally:
            writer.stop()
    with Store(path) as again:
        assert again.applied_migrations == []
        assert get_artifact(again.cursor(), model, "1") == saved
