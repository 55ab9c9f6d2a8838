"""Drift and data quality of one window against a reference: what the drift job stores."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from monitoring.alert_catalog import register_metric
from monitoring.drift.dataset import ColumnDrift, DatasetDrift, column_drift, dataset_drift
from monitoring.drift.multivariate import (
    DEFAULT_AUC_THRESHOLD,
    MultivariateDrift,
    domain_classifier,
)
from monitoring.drift.registry import Kind
from monitoring.quality import quality_checks
from storage.references import PREDICTION_COLUMN, TARGET_COLUMN

DRIFT_ROW_COLUMNS = ("role", "feature", "kind", "method", "score", "threshold", "drifted")
Override = tuple[str | None, float | None]


@dataclass(frozen=True)
class DriftSpec:
    """How a model's windows are judged: its schema and its drift settings."""

    features: Mapping[str, Kind]
    prediction_kind: Kind | None
    target_kind: Kind | None
    # feature -> (method, threshold), None = default; PREDICTION_COLUMN / TARGET_COLUMN
    # (names no feature can have) for the prediction and the target.
    overrides: Mapping[str, Override] = field(default_factory=dict)
    drift_share: float = 0.5
    multivariate: bool = True
    multivariate_threshold: float = DEFAULT_AUC_THRESHOLD
    bounds: Mapping[str, tuple[float | None, float | None]] = field(default_factory=dict)


def _score(value: float | None) -> float | None:
    """A JSON-safe score: NaN (a test with no answer) becomes None."""
    return None if value is None or math.isnan(value) else float(value)


def _column_dict(drift: ColumnDrift) -> dict[str, Any]:
    return {
        "feature": drift.column,
        "kind": drift.kind,
        "method": drift.method,
        "score": _score(drift.score),
        "threshold": drift.threshold,
        "drifted": drift.drifted,
    }


@dataclass(frozen=True)
class WindowDrift:
    """A window's per-feature, prediction, target and multivariate drift, and its quality."""

    rows: int
    labelled: int
    dataset: DatasetDrift
    prediction: ColumnDrift | None
    target: ColumnDrift | None
    multivariate: MultivariateDrift | None
    quality: pd.DataFrame

    def _roles(self) -> list[tuple[str, ColumnDrift]]:
        roles = [("feature", c) for c in self.dataset.columns]
        for role, drift in (("prediction", self.prediction), ("target", self.target)):
            if drift is not None:
                roles.append((role, drift))
        return roles

    def drift_rows(self) -> pd.DataFrame:
        """One row per tested column (DRIFT_ROW_COLUMNS); a missing score is NaN."""
        rows = [
            (role, c.column, c.kind, c.method, c.score, c.threshold, c.drifted)
            for role, c in self._roles()
        ]
        frame = pd.DataFrame(rows, columns=list(DRIFT_ROW_COLUMNS))
        return frame.astype({"score": "float64", "threshold": "float64", "drifted": bool})

    def summary(self) -> dict[str, Any]:
        """The drift_windows values of storage.drift_store.save_window."""
        multi = self.multivariate
        tested = multi is not None and multi.roc_auc is not None
        top = [[f, v] for f, v in multi.top_features] if multi is not None and tested else None
        return {
            "rows": self.rows,
            "labelled": self.labelled,
            "n_tested": self.dataset.n_tested,
            "n_drifted": self.dataset.n_drifted,
            "drift_share": self.dataset.share,
            "dataset_drift": self.dataset.dataset_drift,
            "multivariate_auc": multi.roc_auc if multi is not None else None,
            # None, not False, when the classifier did not run: "not tested" is no verdict.
            "multivariate_drifted": multi.drifted if multi is not None and tested else None,
            "multivariate_top": json.dumps(top) if top is not None else None,
        }

    def as_api(self) -> dict[str, Any]:
        """The JSON of a window's drift (quality is the caller's to add)."""
        return {
            "rows": self.rows,
            "labelled": self.labelled,
            "drift_share": self.dataset.share,
            "dataset_drift": self.dataset.dataset_drift,
            "n_tested": self.dataset.n_tested,
            "n_drifted": self.dataset.n_drifted,
            "features": [_column_dict(c) for c in self.dataset.columns],
            "prediction": _column_dict(self.prediction) if self.prediction else None,
            "target": _column_dict(self.target) if self.target else None,
            "multivariate": self.multivariate.as_dict() if self.multivariate else None,
        }


def _with_features(frame: pd.DataFrame, features: Mapping[str, Kind]) -> pd.DataFrame:
    """The frame with every feature, those it lacks as all-null columns (never mutated)."""
    absent = [name for name in features if name not in frame.columns]
    if not absent:
        return frame
    nulls = {
        name: pd.Series(
            float("nan") if features[name] == "numeric" else None,
            index=frame.index,
            dtype="float64" if features[name] == "numeric" else object,
        )
        for name in absent
    }
    return frame.assign(**nulls)


def _special_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    column: str,
    name: str,
    kind: Kind | None,
    override: Override,
) -> ColumnDrift | None:
    """Drift of the prediction or target column, None unless both windows have a value."""
    if kind is None or column not in reference.columns or column not in current.columns:
        return None
    ref, cur = reference[column], current[column]
    if not (ref.notna().any() and cur.notna().any()):
        return None
    method, threshold = override
    return column_drift(ref, cur, method=method, threshold=threshold, kind=kind, column=name)


def window_drift(reference: pd.DataFrame, current: pd.DataFrame, spec: DriftSpec) -> WindowDrift:
    """Drift of every feature (kinds from the spec, never inferred), prediction and target,
    the domain classifier (when spec.multivariate) and quality checks of `current`.

    Prediction drift tests PREDICTION_COLUMN and target drift TARGET_COLUMN, each only when
    both windows hold a non-null value of it. Features absent from a frame count as null.
    Any window gives a result: 0 rows gives drift_share 0, no dataset drift, scores None.
    """
    features = dict(spec.features)
    ref = _with_features(reference, features)
    cur = _with_features(current, features)
    overrides = {name: spec.overrides[name] for name in features if name in spec.overrides}
    dataset = dataset_drift(
        ref,
        cur,
        columns=list(features),
        overrides=overrides,
        drift_share=spec.drift_share,
        kinds=features,
    )
    default: Override = (None, None)
    prediction = _special_drift(
        ref,
        cur,
        PREDICTION_COLUMN,
        "prediction",
        spec.prediction_kind,
        spec.overrides.get(PREDICTION_COLUMN, default),
    )
    target = _special_drift(
        ref,
        cur,
        TARGET_COLUMN,
        "target",
        spec.target_kind,
        spec.overrides.get(TARGET_COLUMN, default),
    )
    multivariate = None
    if spec.multivariate:
        multivariate = domain_classifier(ref, cur, features, threshold=spec.multivariate_threshold)
    labelled = int(cur[TARGET_COLUMN].notna().sum()) if TARGET_COLUMN in cur.columns else 0
    quality = quality_checks(reference, current, features, spec.bounds)
    return WindowDrift(len(cur), labelled, dataset, prediction, target, multivariate, quality)


register_metric("drift_share", "model", "share of tested features that drifted", (0.0, 1.0))
register_metric("drifted_features", "model", "number of features that drifted", (0.0, None))
register_metric(
    "multivariate_auc", "model", "domain classifier ROC AUC (0.5: no drift)", (0.0, 1.0)
)
register_metric("prediction_drifted", "model", "1 when the predictions drifted, else 0", (0.0, 1.0))
register_metric("missing_rate", "model", "share of missing values (worst feature)", (0.0, 1.0))
register_metric(
    "out_of_range_rate", "model", "share of values out of range (worst feature)", (0.0, 1.0)
)
register_metric(
    "unseen_category_rate", "model", "share of unseen categories (worst feature)", (0.0, 1.0)
)
