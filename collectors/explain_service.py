"""Model artifacts and SHAP explanations: register, explain on demand, importance, drift.

An artifact is a joblib/pickle file: loading it runs code, so only an authenticated caller
may upload one, and it must come from a trusted source. Files live under the data directory
(`artifacts/<model>/<version>-<sha256>.joblib`), named by their SHA-256.
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
from collections import OrderedDict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

from collectors.drift_service import DriftService, NoReference
from collectors.ingest import IngestService
from collectors.settings import Settings
from monitoring.explain.attribution_drift import importance as importance_of
from monitoring.explain.attribution_drift import ndcg, rank_changes
from monitoring.explain.explainers import Explanations, ModelExplainer, build_explainer
from storage import ModelInfo
from storage.artifacts import ArtifactInfo, get_artifact, list_artifacts, save_artifact
from storage.explanations import (
    get_explanation,
    importance_series,
    insert_explanations,
    prediction_rows,
)
from storage.explanations import importance as stored_importance
from storage.reference_importance import load_reference_importance, save_reference_importance
from storage.references import reference_frame

CACHED_EXPLAINERS = 8
REFERENCE_SAMPLE = 1000  # reference rows explained for the baseline ranking


class NoArtifact(LookupError):
    """No model artifact for a version; the message says how to register one."""


class UnknownEvent(LookupError):
    """No stored prediction has that event_id."""


class ArtifactInvalid(ValueError):
    """An upload that is not a usable model; the message says why."""


def no_artifact_message(model: str, version: str) -> str:
    return (
        f"model {model!r} has no artifact for version {version!r}: register it with "
        f"`vigil model register FILE --model {model} --version {version}` "
        f"(PUT /api/v1/models/{model}/versions/{version}/artifact)"
    )


def explanation_frame(
    rows: pd.DataFrame, explained: Explanations, artifact: ArtifactInfo
) -> pd.DataFrame:
    """The rows to store: ids, outputs and one attribution column per feature."""
    frame = pd.DataFrame(explained.values, columns=list(explained.features))
    frame.insert(0, "event_id", rows["event_id"].to_numpy())
    frame.insert(1, "ts", rows["ts"].to_numpy())
    frame.insert(2, "version", rows["version"].astype(str).to_numpy())
    frame.insert(3, "sha256", artifact.sha256)
    frame.insert(4, "base_value", explained.base_values)
    frame.insert(5, "output", explained.output)
    frame.insert(6, "units", explained.units)
    frame.insert(7, "explained_class", explained.explained_class)
    return frame


class ExplainService:
    """Artifacts, explainers (cached by artifact and reference) and explanations."""

    def __init__(self, ingest: IngestService, settings: Settings, drift: DriftService) -> None:
        self.ingest = ingest
        self.settings = settings
        self.drift = drift
        self._explainers: OrderedDict[tuple[str, int | None], ModelExplainer] = OrderedDict()
        self._lock = threading.Lock()

    # -- artifacts -------------------------------------------------------------------
    def register_artifact(self, model_name: str, version: str, data: bytes) -> ArtifactInfo:
        """Check the upload is a model Vigil can explain, store the file, record it."""
        model = self.ingest.model(model_name)
        if not version or len(version) > 128:
            raise ArtifactInvalid("version must be 1-128 characters")
        if not data:
            raise ArtifactInvalid("the artifact is empty: send a joblib or pickle file")
        try:
            loaded = joblib.load(io.BytesIO(data))
        except Exception as exc:
            raise ArtifactInvalid(
                f"the artifact cannot be loaded with joblib ({type(exc).__name__}: {exc}); "
                "send a file written by joblib.dump or pickle.dump"
            ) from None
        if not hasattr(loaded, "predict"):
            raise ArtifactInvalid(f"the artifact is a {type(loaded).__name__}, not a model")
        explainer = self._build(model, loaded, version)
        sha = hashlib.sha256(data).hexdigest()
        relative = Path("artifacts") / model.name / f"{_safe(version)}-{sha}.joblib"
        _write_atomically(self.settings.data_dir / relative, data)
        info = self.ingest.writer.run(
            lambda con: save_artifact(
                con,
                model,
                version,
                sha256=sha,
                path=str(relative),
                size_bytes=len(data),
                estimator=explainer.estimator,
                explainer=explainer.kind,
                units=explainer.units,
            )
        )
        with self._lock:
            self._explainers[(sha, self._reference_id(model, version))] = explainer
        return info

    def artifacts(self, model_name: str) -> list[ArtifactInfo]:
        model = self.ingest.model(model_name)
        return list_artifacts(self.ingest.store.cursor(), model)

    def _reference_id(self, model: ModelInfo, version: str | None) -> int | None:
        try:
            return self.drift.reference(self.ingest.store.cursor(), model, version).id
        except NoReference:
            return None

    def _background(self, model: ModelInfo, version: str | None) -> pd.DataFrame | None:
        con = self.ingest.store.cursor()
        try:
            reference = self.drift.reference(con, model, version)
        except NoReference:
            return None
        frame = self.drift.reference_data(con, model, reference)
        return frame[[f for f in model.features if f in frame.columns]]

    def _build(self, model: ModelInfo, loaded: object, version: str) -> ModelExplainer:
        try:
            return build_explainer(
                loaded,
                list(model.features),
                model.task,
                model.positive_class,
                self._background(model, version),
            )
        except ValueError as exc:
            raise ArtifactInvalid(f"cannot explain this model: {exc}") from None

    def explainer(self, model: ModelInfo, version: str) -> tuple[ArtifactInfo, ModelExplainer]:
        """The version's artifact and its explainer (loaded once, then cached)."""
        con = self.ingest.store.cursor()
        artifact = get_artifact(con, model, version)
        if artifact is None:
            raise NoArtifact(no_artifact_message(model.name, version))
        key = (artifact.sha256, self._reference_id(model, version))
        with self._lock:
            cached = self._explainers.get(key)
            if cached is not None:
                self._explainers.move_to_end(key)
                return artifact, cached
        loaded = joblib.load(self.settings.data_dir / artifact.path)
        built = self._build(model, loaded, version)
        with self._lock:
            self._explainers[key] = built
            while len(self._explainers) > CACHED_EXPLAINERS:
                self._explainers.popitem(last=False)
        return artifact, built

    # -- explanations ----------------------------------------------------------------
    def explain_rows(self, model: ModelInfo, rows: pd.DataFrame) -> int:
        """Explain prediction rows (one version at a time) and store them; rows stored."""
        stored = 0
        for version, part in rows.groupby("version", sort=False):
            artifact, explainer = self.explainer(model, str(version))
            part = part.reset_index(drop=True)
            explained = explainer.explain(part[list(model.features)])
            # A model that refuses a row's input (NaN into GradientBoosting) leaves it
            # unexplained: a stored NaN would read as an explanation.
            ok = np.isfinite(explained.output)
            frame = explanation_frame(part, explained, artifact)[ok].reset_index(drop=True)
            if frame.empty:
                continue
            stored += self._store(model, frame)
        return stored

    def _store(self, model: ModelInfo, frame: pd.DataFrame) -> int:
        return self.ingest.writer.run(lambda con: insert_explanations(con, model, frame))

    def explain_event(self, model_name: str, event_id: str) -> dict[str, Any]:
        """One prediction's explanation, computed and stored now when it is not stored."""
        model = self.ingest.model(model_name)
        con = self.ingest.store.cursor()
        rows = prediction_rows(con, model, [event_id])
        if rows.empty:
            raise UnknownEvent(f"model {model.name!r} has no prediction with event_id {event_id!r}")
        computed = False
        found = get_explanation(con, model, event_id)
        if found is None:
            self.explain_rows(model, rows)
            found = get_explanation(self.ingest.store.cursor(), model, event_id)
            computed = True
        assert found is not None
        row = rows.iloc[0]
        features = {f: _plain(row[f]) for f in model.features if f in rows.columns}
        return {
            "event_id": event_id,
            "version": found["version"],
            "output": found["output"],
            "base_value": found["base_value"],
            "units": found["units"],
            "attributions": found["attributions"],
            "features": features,
            "explained_class": found["explained_class"],
            "computed": computed,
        }

    def importance(
        self,
        model_name: str,
        start: datetime,
        end: datetime,
        version: str | None = None,
        segment: tuple[str, str] | None = None,
    ) -> dict[str, Any]:
        """Mean |SHAP| per feature over the explained predictions of a range."""
        model = self.ingest.model(model_name)
        con = self.ingest.store.cursor()
        frame = stored_importance(con, model, start, end, version, segment)
        order = ranked(frame)
        return {
            "units": self._units(model, version),
            "explained": int(frame["n"].max()) if not frame.empty else 0,
            "features": order.to_dict(orient="records"),
        }

    def _units(self, model: ModelInfo, version: str | None) -> str | None:
        artifacts = list_artifacts(self.ingest.store.cursor(), model)
        chosen = [a for a in artifacts if version is None or a.version == version]
        return chosen[0].units if chosen else None

    def reference_importance(self, model_name: str, version: str | None) -> pd.DataFrame | None:
        """Importance of the drift reference sample, explained once per artifact and reference."""
        model = self.ingest.model(model_name)
        con = self.ingest.store.cursor()
        artifacts = list_artifacts(con, model)
        chosen = next((a for a in artifacts if version in (None, a.version)), None)
        if chosen is None:
            return None
        try:
            reference = self.drift.reference(con, model, chosen.version)
        except NoReference:
            return None
        stored = load_reference_importance(con, model, chosen.sha256, reference.id)
        if stored is not None:
            return ranked(stored)
        sample = reference_frame(con, model, reference)
        sample = sample.sample(min(len(sample), REFERENCE_SAMPLE), random_state=0)
        _, explainer = self.explainer(model, chosen.version)
        explained = explainer.explain(sample[list(model.features)].reset_index(drop=True))
        frame = importance_of(explained.values, explained.features)
        self.ingest.writer.run(
            lambda w: save_reference_importance(
                w, model, chosen.sha256, reference.id, frame[["feature", "mean_abs"]]
            )
        )
        return ranked(frame[["feature", "mean_abs"]])

    def attribution_drift(
        self,
        model_name: str,
        start: datetime,
        end: datetime,
        window: str,
        version: str | None = None,
    ) -> dict[str, Any]:
        """Shares per window, NDCG of each window's ranking against the reference, rank changes."""
        model = self.ingest.model(model_name)
        con = self.ingest.store.cursor()
        series = importance_series(con, model, start, end, window, version)
        if not series.empty:
            totals = series.groupby("window_start")["mean_abs"].transform("sum")
            series = series.assign(share=series["mean_abs"] / totals.where(totals > 0))
        reference = self.reference_importance(model_name, version)
        ndcgs = []
        if reference is not None and not series.empty:
            for start_at, part in series.groupby("window_start"):
                ndcgs.append({"window_start": start_at, "ndcg": ndcg(reference, ranked(part))})
        overall = ranked(stored_importance(con, model, start, end, version, None))
        changes = (
            rank_changes(reference, overall)
            if reference is not None and not overall.empty
            else pd.DataFrame()
        )
        return {
            "units": self._units(model, version),
            "reference": reference,
            "series": series,
            "ndcg": pd.DataFrame(ndcgs, columns=["window_start", "ndcg"]),
            "changes": changes,
        }


def ranked(frame: pd.DataFrame) -> pd.DataFrame:
    """feature, mean_abs, share, rank from a frame with feature and mean_abs."""
    if frame.empty:
        return pd.DataFrame(columns=["feature", "mean_abs", "share", "rank"])
    out = frame[["feature", "mean_abs"]].sort_values(
        ["mean_abs", "feature"], ascending=[False, True]
    )
    total = out["mean_abs"].sum()
    out = out.assign(
        share=out["mean_abs"] / total if total > 0 else 0.0, rank=np.arange(1, len(out) + 1)
    )
    return out.reset_index(drop=True)


def _plain(value: object) -> object:
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _safe(version: str) -> str:
    """A version as a file-name part: anything but letters, digits, '.', '_', '-' becomes '_'."""
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in version)[:64]


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def utc_now() -> datetime:
    return datetime.now(UTC)
