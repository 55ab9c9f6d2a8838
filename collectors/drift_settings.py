"""A model's drift and data-quality settings: the [models.<name>.drift] table.

```toml
[models.churn.drift]
drift_share = 0.5             # dataset drift when this share of features drifts
multivariate = true           # the domain-classifier score
multivariate_threshold = 0.55 # its ROC AUC above which the data drifted
[models.churn.drift.features.income]
method = "psi"                # any registered method that fits the feature's kind
threshold = 0.2
min = 0                       # data-quality bounds: values outside are out of range
max = 1e7
[models.churn.drift.prediction]
method = "jensenshannon"
```
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from monitoring.drift import METHODS, get_method
from monitoring.drift.dataset import DEFAULT_DRIFT_SHARE
from monitoring.drift.multivariate import DEFAULT_AUC_THRESHOLD
from monitoring.drift.window import DriftSpec
from storage.references import PREDICTION_COLUMN, TARGET_COLUMN

DRIFT_KEYS = ("drift_share", "multivariate", "multivariate_threshold", "features")
OUTPUT_KEYS = ("prediction", "target")
FEATURE_KEYS = ("method", "threshold", "min", "max")


class DriftSettingsError(ValueError):
    """A wrong drift setting; the message names the table, the key and what is allowed."""


@dataclass(frozen=True)
class ColumnSettings:
    """One feature's (or the prediction's, or the target's) overrides and bounds."""

    method: str | None = None
    threshold: float | None = None
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class DriftSettings:
    """How drift is judged for one model."""

    drift_share: float = DEFAULT_DRIFT_SHARE
    multivariate: bool = True
    multivariate_threshold: float = DEFAULT_AUC_THRESHOLD
    columns: dict[str, ColumnSettings] = field(default_factory=dict, hash=False)
    prediction: ColumnSettings = ColumnSettings()
    target: ColumnSettings = ColumnSettings()

    def spec(self, features: Mapping[str, str], task: str, labelled: bool = True) -> DriftSpec:
        """The monitoring spec for a model's schema (feature -> 'numeric'|'categorical')."""
        kinds = {
            name: "numeric" if kind == "numeric" else "categorical"
            for name, kind in features.items()
        }
        # A method that does not fit the feature's kind is left out (check_columns reports it).
        overrides: dict[str, tuple[str | None, float | None]] = {
            name: (col.method, col.threshold)
            for name, col in self.columns.items()
            if name in kinds and (col.method is None or kinds[name] in get_method(col.method).kinds)
        }
        output_kind = "numeric" if task == "regression" else "categorical"
        for column, col in ((PREDICTION_COLUMN, self.prediction), (TARGET_COLUMN, self.target)):
            if col.method is None or output_kind in get_method(col.method).kinds:
                overrides[column] = (col.method, col.threshold)
        bounds = {
            name: (col.min, col.max)
            for name, col in self.columns.items()
            if col.min is not None or col.max is not None
        }
        return DriftSpec(
            features=kinds,  # type: ignore[arg-type]
            prediction_kind=output_kind,  # type: ignore[arg-type]
            target_kind=output_kind if labelled else None,  # type: ignore[arg-type]
            overrides=overrides,
            drift_share=self.drift_share,
            multivariate=self.multivariate,
            multivariate_threshold=self.multivariate_threshold,
            bounds=bounds,
        )


def _number(value: object, where: str, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise DriftSettingsError(f"{where} {key} must be a finite number, got {value!r}")
    return float(value)


def _share(value: object, where: str, key: str) -> float:
    number = _number(value, where, key)
    if not 0 < number <= 1:
        raise DriftSettingsError(f"{where} {key} must be above 0 and at most 1, got {value!r}")
    return number


def _column(table: object, where: str) -> ColumnSettings:
    if not isinstance(table, dict):
        raise DriftSettingsError(f"{where} must be a table with keys {', '.join(FEATURE_KEYS)}")
    for key in table:
        if key not in FEATURE_KEYS:
            raise DriftSettingsError(
                f"unknown key {key!r} in {where}; known: {', '.join(FEATURE_KEYS)}"
            )
    method = table.get("method")
    if method is not None:
        if not isinstance(method, str) or method not in METHODS:
            raise DriftSettingsError(
                f"{where} method {method!r} is unknown; use one of {', '.join(sorted(METHODS))}"
            )
        get_method(method)
    threshold = table.get("threshold")
    low, high = table.get("min"), table.get("max")
    checked = ColumnSettings(
        method=method,
        threshold=None if threshold is None else _number(threshold, where, "threshold"),
        min=None if low is None else _number(low, where, "min"),
        max=None if high is None else _number(high, where, "max"),
    )
    if checked.threshold is not None and checked.threshold <= 0:
        raise DriftSettingsError(f"{where} threshold must be positive, got {threshold!r}")
    if checked.min is not None and checked.max is not None and checked.min > checked.max:
        raise DriftSettingsError(f"{where} min {low} is above max {high}: swap them")
    return checked


def parse_drift(table: object, where: str) -> DriftSettings:
    """The [models.<name>.drift] table, every key checked; `where` names it in errors."""
    if not isinstance(table, dict):
        raise DriftSettingsError(f"{where} must be a table, as in [{where.split()[-1]}]")
    for key in table:
        if key not in (*DRIFT_KEYS, *OUTPUT_KEYS):
            known = ", ".join((*DRIFT_KEYS, *OUTPUT_KEYS))
            raise DriftSettingsError(f"unknown key {key!r} in {where}; known: {known}")
    defaults = DriftSettings()
    multivariate = table.get("multivariate", defaults.multivariate)
    if not isinstance(multivariate, bool):
        raise DriftSettingsError(
            f"{where} multivariate must be true or false, got {multivariate!r}"
        )
    features = table.get("features", {})
    if not isinstance(features, dict):
        raise DriftSettingsError(
            f"{where} features must hold tables such as [..drift.features.age]"
        )
    threshold = table.get("multivariate_threshold", defaults.multivariate_threshold)
    auc = _number(threshold, where, "multivariate_threshold")
    if not 0.5 < auc < 1:
        raise DriftSettingsError(
            f"{where} multivariate_threshold is a ROC AUC above 0.5 and below 1, got {threshold!r}"
        )
    return DriftSettings(
        drift_share=_share(table.get("drift_share", defaults.drift_share), where, "drift_share"),
        multivariate=multivariate,
        multivariate_threshold=auc,
        columns={
            str(name): _column(col, f"{where[:-1]}.features.{name}]")
            for name, col in features.items()
        },
        prediction=_column(table.get("prediction", {}), f"{where[:-1]}.prediction]"),
        target=_column(table.get("target", {}), f"{where[:-1]}.target]"),
    )


def check_columns(settings: DriftSettings, model: str, features: Mapping[str, str]) -> list[str]:
    """Problems with a model's drift settings against its registered schema (for the log)."""
    problems = []
    for name, col in settings.columns.items():
        kind = features.get(name)
        if kind is None:
            problems.append(f"[models.{model}.drift.features.{name}]: {name!r} is not a feature")
            continue
        if col.method is not None and kind not in get_method(col.method).kinds:
            problems.append(
                f"[models.{model}.drift.features.{name}]: method {col.method!r} does not apply "
                f"to the {kind} feature {name!r}"
            )
    return problems
