"""Cached data access and actions for the Explanations page.

Stored rows (artifacts, recent predictions, the beeswarm's sample) come from storage like
dashboard.drift_data reads drift_store; explaining a prediction now, importance and
attribution drift go through the server's ExplainService, the same code the explanation API
serves. Cached functions take plain values plus the store key, like dashboard.data.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Literal, TypeVar

import numpy as np
import pandas as pd
import streamlit as st

from collectors.explain_service import ExplainService, NoArtifact, UnknownEvent
from dashboard import data
from dashboard import format as fmt
from dashboard.perf_figures import lacks
from storage import StorageError
from storage import explanations as stored
from storage.artifacts import ArtifactInfo, list_artifacts

T = TypeVar("T")
Segment = tuple[str, str]
EXPLAIN_TTL_S = 60.0  # attribution drift explains the reference once: keep it a minute
BEESWARM_ROWS = 1000  # explanations drawn in the beeswarm (a stable hash sample)
EXPLAIN_MORE = 500  # predictions one "Explain more" click explains
TABLE_ROWS = 50
NO_SERVICE = (
    "Explanations run inside `vigil serve`: the server holds the model artifacts and computes "
    "SHAP values. Open the dashboard at the address `vigil serve` prints to see them here."
)
# What an explanation action can fail with; the message says what to change.
ACTION_ERRORS = (NoArtifact, UnknownEvent, ValueError, LookupError, StorageError)


def service() -> ExplainService | None:
    """The server's explanation service (None when the runtime has none)."""
    return data.runtime().explain


def _service() -> ExplainService:
    found = service()
    if found is None:
        raise LookupError(NO_SERVICE)
    return found


def no_artifact_text(name: str, versions: list[str]) -> str:
    """How to register a model artifact (model names never need markdown escaping)."""
    missing = ", ".join(fmt.markdown_text(v) for v in versions) or "none yet"
    return (
        "This model has no artifact for the chosen version, so Vigil cannot compute SHAP "
        "values. Register the fitted model (a file written by `joblib.dump`) from a shell: "
        f"`vigil model register FILE --model {name} --version V`; or send it to "
        f"`PUT /api/v1/models/{name}/versions/V/artifact` (the body is the file, with the API "
        f"token). Versions with predictions: {missing}. Loading an artifact runs its code: "
        "register only models you trust."
    )


@st.cache_data(ttl=data.TTL_S, show_spinner=False)
def _artifacts(store: str, name: str) -> list[ArtifactInfo]:
    with data.connection() as con:
        return list_artifacts(con, data.model(name))


def artifacts(name: str) -> list[ArtifactInfo]:
    """Every registered artifact of the model, by version."""
    return _artifacts(data.store_key(), name)


def usable(name: str, version: str | None) -> list[ArtifactInfo]:
    """The artifacts that explain the chosen version (every one for all versions)."""
    return [a for a in artifacts(name) if version is None or a.version == version]


@st.cache_data(ttl=data.TTL_S, show_spinner=False)
def _predictions(
    store: str,
    name: str,
    start: datetime,
    end: datetime,
    version: str | None,
    order: Literal["recent", "worst"],
    limit: int,
) -> pd.DataFrame:
    with data.connection() as con:
        return stored.recent_predictions(
            con, data.model(name), start, end, version, limit=limit, order=order
        )


def predictions(
    name: str,
    start: datetime,
    end: datetime,
    version: str | None,
    order: Literal["recent", "worst"] = "recent",
    limit: int = TABLE_ROWS,
) -> pd.DataFrame:
    """Predictions of the range: newest first, or the worst labelled errors first."""
    return _predictions(data.store_key(), name, start, end, version, order, limit)


@st.cache_data(ttl=data.TTL_S, show_spinner=False)
def _count(store: str, name: str, start: datetime, end: datetime, version: str | None) -> int:
    with data.connection() as con:
        return stored.count_explained(con, data.model(name), start, end, version)


def count_explained(name: str, start: datetime, end: datetime, version: str | None) -> int:
    """Explained predictions in the range."""
    return _count(data.store_key(), name, start, end, version)


@st.cache_data(ttl=data.TTL_S, show_spinner=False)
def _rows(
    store: str,
    name: str,
    start: datetime,
    end: datetime,
    version: str | None,
    segment: Segment | None,
    limit: int,
) -> pd.DataFrame:
    with data.connection() as con:
        return stored.explained_rows(con, data.model(name), start, end, version, segment, limit)


def explained_rows(
    name: str,
    start: datetime,
    end: datetime,
    version: str | None,
    segment: Segment | None = None,
    limit: int = BEESWARM_ROWS,
) -> pd.DataFrame:
    """The beeswarm's long rows (event_id, feature, attribution, value_num, value_text)."""
    return _rows(data.store_key(), name, start, end, version, segment, limit)


def explanation(name: str, event_id: str) -> dict[str, Any]:
    """One prediction's explanation: stored, or computed and stored now (not cached: a
    stored one is two small reads, and a new artifact must show at once)."""
    found = data.on_service_thread(_service().explain_event, name, event_id)
    if found.get("computed"):
        clear_caches()  # it counts now: the tables' "explained" flags and importance changed
    return found


@st.cache_data(ttl=data.TTL_S, show_spinner=False)
def _importance(
    store: str,
    name: str,
    start: datetime,
    end: datetime,
    version: str | None,
    segment: Segment | None,
) -> dict[str, Any]:
    return data.on_service_thread(_service().importance, name, start, end, version, segment)


def importance(
    name: str, start: datetime, end: datetime, version: str | None, segment: Segment | None = None
) -> tuple[pd.DataFrame, str, int]:
    """Mean |SHAP| per feature (feature, mean_abs, share, rank), its units and how many
    explained predictions it averages."""
    found = _importance(data.store_key(), name, start, end, version, segment)
    frame = pd.DataFrame(found["features"], columns=["feature", "mean_abs", "share", "rank"])
    return frame, str(found.get("units") or "raw"), int(found.get("explained") or 0)


@st.cache_data(ttl=EXPLAIN_TTL_S, show_spinner="Comparing attributions with the reference…")
def _drift(
    store: str, name: str, start: datetime, end: datetime, window: str, version: str | None
) -> dict[str, Any]:
    return data.on_service_thread(_service().attribution_drift, name, start, end, window, version)


def attribution_drift(
    name: str, start: datetime, end: datetime, window: str, version: str | None
) -> dict[str, Any]:
    """Shares per window, NDCG per window and rank changes against the reference ranking."""
    return _drift(data.store_key(), name, start, end, window, version)


def _explain_more(
    explain: ExplainService, name: str, start: datetime, end: datetime, version: str | None
) -> int:
    model = explain.ingest.model(name)
    with_artifact = {a.version for a in explain.artifacts(name)}
    rows = stored.unexplained(
        explain.ingest.store.cursor(), model, start, end, version=version, limit=EXPLAIN_MORE
    )
    # A version without an artifact cannot be explained: leave its predictions out.
    rows = rows[rows["version"].astype(str).isin(with_artifact)]
    return 0 if rows.empty else explain.explain_rows(model, rows)


def explain_more(name: str, start: datetime, end: datetime, version: str | None) -> int:
    """Explain and store up to EXPLAIN_MORE unexplained predictions of the range, newest first."""
    done = data.on_service_thread(_explain_more, _service(), name, start, end, version)
    clear_caches()
    return done


def clear_caches() -> None:
    """Forget what depends on which predictions are explained."""
    for cached in (_predictions, _count, _rows, _importance, _drift):
        cached.clear()


def rank_change_table(changes: pd.DataFrame) -> pd.DataFrame:
    """rank_changes for a table: by current rank, the change as text (▲ 2, ▼ 1, =, new)."""
    columns = [
        "feature",
        "reference_rank",
        "current_rank",
        "change",
        "reference_share",
        "current_share",
    ]
    if lacks(changes, ("feature", "reference_rank", "current_rank")):
        return pd.DataFrame({c: [] for c in columns})
    frame = changes.copy()
    for column in columns:
        if column not in frame.columns:
            frame[column] = np.nan
    reference = pd.to_numeric(frame["reference_rank"], errors="coerce")
    current = pd.to_numeric(frame["current_rank"], errors="coerce")
    moved = reference - current

    def arrow(ref: float, cur: float, step: float) -> str:
        if math.isnan(cur):
            return "gone"
        if math.isnan(ref):
            return "new"
        if step == 0:
            return "="
        return f"▲ {step:g}" if step > 0 else f"▼ {-step:g}"

    frame["change"] = [arrow(r, c, m) for r, c, m in zip(reference, current, moved, strict=True)]
    frame = frame.assign(_order=current.fillna(np.inf), _ref=reference.fillna(np.inf))
    frame = frame.sort_values(["_order", "_ref", "feature"], ignore_index=True)
    return frame[columns]
