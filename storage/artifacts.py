"""Model artifacts: the registered model file of each version of a model, for explanations.

The file itself lives under the data directory; this table records where (a relative path),
its SHA-256 and what explains it. Every value is a parameter.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

import duckdb

from storage.models import ModelInfo

_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_COLUMNS = "version, sha256, path, size_bytes, estimator, explainer, units, uploaded_at"


@dataclass(frozen=True)
class ArtifactInfo:
    """A registered model file of one version of a model."""

    model: str
    version: str
    sha256: str
    path: str
    size_bytes: int
    estimator: str
    explainer: str
    units: str
    uploaded_at: datetime

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: times as ISO 8601 strings."""
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in asdict(self).items()}


def _text(name: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value


def _relative(path: object) -> str:
    """A path inside the data directory: relative and without '..' (stored as given)."""
    text = _text("path", path)
    for flavour in (PurePosixPath(text), PureWindowsPath(text)):
        if flavour.is_absolute() or flavour.anchor or ".." in flavour.parts:
            raise ValueError(
                f"artifact path {text!r} must be relative to the data directory, without '..'"
            )
    return text


def _info(model: ModelInfo, row: tuple[Any, ...]) -> ArtifactInfo:
    return ArtifactInfo(
        model=model.name,
        version=row[0],
        sha256=row[1],
        path=row[2],
        size_bytes=int(row[3]),
        estimator=row[4],
        explainer=row[5],
        units=row[6],
        uploaded_at=row[7],
    )


def save_artifact(
    con: duckdb.DuckDBPyConnection,
    model: ModelInfo,
    version: str,
    *,
    sha256: str,
    path: str,
    size_bytes: int,
    estimator: str,
    explainer: str,
    units: str,
) -> ArtifactInfo:
    """Record (or replace) the artifact of a model version; uploaded_at is now."""
    digest = _text("sha256", sha256).lower()
    if not _SHA256_RE.fullmatch(digest):
        raise ValueError(f"sha256 must be 64 hexadecimal digits, got {sha256!r}")
    if isinstance(size_bytes, bool) or not isinstance(size_bytes, int) or size_bytes < 0:
        raise ValueError(f"size_bytes must be a non-negative integer, got {size_bytes!r}")
    values = [
        model.id,
        _text("version", version),
        digest,
        _relative(path),
        size_bytes,
        _text("estimator", estimator),
        _text("explainer", explainer),
        _text("units", units),
    ]
    con.execute(
        f"INSERT OR REPLACE INTO model_artifacts (model_id, {_COLUMNS}) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, now())",
        values,
    ).fetchall()
    saved = get_artifact(con, model, version)
    assert saved is not None
    return saved


def get_artifact(
    con: duckdb.DuckDBPyConnection, model: ModelInfo, version: str
) -> ArtifactInfo | None:
    """The artifact of a model version, or None."""
    rows = con.execute(
        f"SELECT {_COLUMNS} FROM model_artifacts WHERE model_id = ? AND version = ?",
        [model.id, str(version)],
    ).fetchall()  # read to the end: a half-read result blocks later con.sql() (duckdb 2.0)
    return _info(model, rows[0]) if rows else None


def list_artifacts(con: duckdb.DuckDBPyConnection, model: ModelInfo) -> list[ArtifactInfo]:
    """Every artifact of a model, by version."""
    rows = con.execute(
        f"SELECT {_COLUMNS} FROM model_artifacts WHERE model_id = ? ORDER BY version",
        [model.id],
    ).fetchall()
    return [_info(model, row) for row in rows]
