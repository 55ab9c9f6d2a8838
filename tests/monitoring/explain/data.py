"""Small synthetic frames and the models' own outputs, computed without the explainer."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

NUMERIC = ("a", "b", "c", "d")
CATEGORICAL = ("region", "plan")
MIXED = (*NUMERIC, *CATEGORICAL)
REGIONS = ("north", "south", "east", "west")
PLANS = ("basic", "pro")


def frame(n: int, seed: int = 0) -> pd.DataFrame:
    """An explain frame: four float64 numbers and two str categoricals."""
    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {name: rng.normal(size=n) for name in NUMERIC}
    data["region"] = rng.choice(REGIONS, n).astype(object)
    data["plan"] = rng.choice(PLANS, n, p=[0.7, 0.3]).astype(object)
    return pd.DataFrame(data)


def score(x: pd.DataFrame) -> np.ndarray:
    """A latent score with interactions, so trees have something to split on."""
    region = x["region"].map({"north": 0.8, "south": -0.5, "east": 0.0, "west": 0.3})
    plan = np.where(x["plan"] == "pro", 0.6, 0.0)
    return np.asarray(
        1.5 * x["a"] - x["b"] + 0.5 * x["a"] * x["c"] + region.to_numpy() + plan, dtype=float
    )


def binary_labels(x: pd.DataFrame) -> np.ndarray:
    return np.where(score(x) > 0.2, "yes", "no").astype(object)


def multiclass_labels(x: pd.DataFrame) -> np.ndarray:
    return np.digitize(score(x), [-0.7, 0.7]).astype(np.int64)


def regression_target(x: pd.DataFrame) -> np.ndarray:
    return 10.0 * score(x) + 3.0 * x["d"].to_numpy()


def own_output(model: Any, x: Any, units: str, task: str, positive: int = 1) -> np.ndarray:
    """The model's own output, the way the contract defines it for each task and unit."""
    if task == "regression":
        return np.asarray(model.predict(x), dtype=float)
    if units == "probability":
        out = np.asarray(model.predict_proba(x), dtype=float)
    else:
        out = np.asarray(model.decision_function(x), dtype=float)
        if out.ndim == 1:  # a binary margin: the log-odds of classes_[1]
            out = np.column_stack([-out, out])
    if task == "binary":
        return out[:, positive]
    return out[np.arange(len(out)), np.argmax(out, axis=1)]
