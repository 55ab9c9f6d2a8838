"""The baseline feature ranking of attribution drift: mean |SHAP| of a reference sample."""

from __future__ import annotations

import duckdb
import pandas as pd

from storage.models import ModelInfo


def save_reference_importance(
    con: duckdb.DuckDBPyConnection,
    model: ModelInfo,
    sha256: str,
    reference_id: int,
    frame: pd.DataFrame,
) -> None:
    """Replace the stored ranking of (artifact, reference) with frame's feature, mean_abs."""
    con.execute(
        "DELETE FROM reference_importance WHERE model_id = ? AND sha256 = ? AND reference_id = ?",
        [model.id, sha256, reference_id],
    )
    rows = [
        [model.id, sha256, reference_id, str(feature), float(value)]
        for feature, value in zip(frame["feature"], frame["mean_abs"], strict=True)
    ]
    if rows:
        con.executemany("INSERT INTO reference_importance VALUES (?, ?, ?, ?, ?, now())", rows)


def load_reference_importance(
    con: duckdb.DuckDBPyConnection, model: ModelInfo, sha256: str, reference_id: int
) -> pd.DataFrame | None:
    """feature, mean_abs of (artifact, reference); None when it was never computed."""
    frame = con.execute(
        "SELECT feature, mean_abs FROM reference_importance "
        "WHERE model_id = ? AND sha256 = ? AND reference_id = ? ORDER BY mean_abs DESC, feature",
        [model.id, sha256, reference_id],
    ).df()
    return None if frame.empty else frame


def latest_reference_importance(
    con: duckdb.DuckDBPyConnection, model: ModelInfo
) -> pd.DataFrame | None:
    """The most recently computed ranking of the model (any artifact), or None."""
    frame = con.execute(
        "SELECT feature, mean_abs FROM reference_importance WHERE model_id = ? "
        "AND computed_at = (SELECT max(computed_at) FROM reference_importance WHERE model_id = ?) "
        "ORDER BY mean_abs DESC, feature",
        [model.id, model.id],
    ).df()
    return None if frame.empty else frame
