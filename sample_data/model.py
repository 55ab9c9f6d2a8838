"""The demo credit-risk classifier: reference data, training and an on-disk cache."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import sklearn
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from sample_data.features import (
    CATEGORICAL_FEATURES,
    FEATURES,
    LABEL_COLUMN,
    NUMERIC_FEATURES,
    default_probability,
    draw_labels,
    sample_applicants,
)

log = logging.getLogger(__name__)

# Bump when the generator or the model changes so stale cached models are not reused.
GENERATOR_VERSION = 1
REFERENCE_ROWS = 20_000
DEFAULT_CACHE_DIR = Path(__file__).resolve().parent / "cache"
_REFERENCE_STREAM = 1


def reference_frame(seed: int = 42, n: int = REFERENCE_ROWS) -> pd.DataFrame:
    """Pre-drift applicants with their outcome in column `label` (1 = default)."""
    if n <= 0:
        raise ValueError(f"n must be a positive number of rows, got {n}")
    rng = np.random.default_rng([seed, _REFERENCE_STREAM])
    drifted = np.zeros(n, dtype=bool)
    frame = sample_applicants(rng, drifted)
    frame[LABEL_COLUMN] = draw_labels(rng, default_probability(frame, drifted))
    return frame


def build_pipeline(seed: int = 42) -> Pipeline:
    """One-hot encode categoricals and feed a gradient-boosted tree ensemble."""
    encode = ColumnTransformer(
        [
            (
                "categorical",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                list(CATEGORICAL_FEATURES),
            ),
            ("numeric", "passthrough", list(NUMERIC_FEATURES)),
        ],
        verbose_feature_names_out=False,
    )
    boost = GradientBoostingClassifier(
        n_estimators=120, max_depth=3, learning_rate=0.1, subsample=0.8, random_state=seed
    )
    return Pipeline([("encode", encode), ("model", boost)])


def train_model(seed: int = 42, n: int = REFERENCE_ROWS) -> Pipeline:
    """Fit the demo classifier on `reference_frame(seed, n)`."""
    frame = reference_frame(seed, n)
    pipeline = build_pipeline(seed)
    pipeline.fit(frame[list(FEATURES)], frame[LABEL_COLUMN])
    return pipeline


def cache_path(cache_dir: Path, seed: int) -> Path:
    """Cache file for one seed, generator version and scikit-learn version."""
    name = f"credit-risk-g{GENERATOR_VERSION}-seed{seed}-sklearn{sklearn.__version__}.joblib"
    return cache_dir / name


def load_or_train_model(cache_dir: str | Path | None = None, seed: int = 42) -> Pipeline:
    """Load the cached model for `seed`, or train it and cache it (default sample_data/cache/)."""
    directory = Path(cache_dir) if cache_dir is not None else DEFAULT_CACHE_DIR
    path = cache_path(directory, seed)
    if path.exists():
        try:
            model = joblib.load(path)
        except Exception as exc:  # a truncated or foreign file: retrain rather than fail the demo
            log.warning("ignoring unreadable model cache %s (%s); retraining", path, exc)
        else:
            if isinstance(model, Pipeline):
                return model
            log.warning("ignoring model cache %s: it holds %s", path, type(model).__name__)
    model = train_model(seed)
    _save_atomically(model, path)
    return model


def _save_atomically(model: Pipeline, path: Path) -> None:
    """Write to a temporary file and rename, so a crash never leaves half a cache file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        joblib.dump(model, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def positive_scores(model: Pipeline, frame: pd.DataFrame) -> np.ndarray:
    """Probability of class 1 (default) for each row of `frame`."""
    classes = list(model.classes_)
    return np.asarray(model.predict_proba(frame[list(FEATURES)])[:, classes.index(1)])
