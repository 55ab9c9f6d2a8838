"""The metrics alert rules may name: scope (a model's or the host's), description and the
thresholds each can take. Drift and data-quality modules extend it with register_metric."""

from __future__ import annotations

import re
from typing import Literal

from monitoring.metrics import METRICS_BY_TASK
from monitoring.slo import LATENCY_METRICS

MetricScope = Literal["model", "system"]
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")

_DESCRIPTIONS = {
    "accuracy": "share of labelled predictions that are right",
    "precision": "share of predicted positives that are positive",
    "recall": "share of actual positives predicted positive",
    "f1": "harmonic mean of precision and recall",
    "roc_auc": "area under the ROC curve of the scores",
    "pr_auc": "area under the precision-recall curve of the scores",
    "log_loss": "mean log loss of the scores",
    "brier": "mean squared error of the scores",
    "positive_rate_predicted": "share of labelled predictions that are positive",
    "positive_rate_actual": "share of labels that are positive",
    "mae": "mean absolute error",
    "rmse": "root mean squared error",
    "mape": "mean absolute percentage error (a fraction)",
    "r2": "coefficient of determination",
}
# Metrics that are fractions; a threshold outside [0, 1] is a typo such as 90 for 0.9.
_FRACTIONS = {
    name
    for names in METRICS_BY_TASK.values()
    for name in names
    if name not in {"log_loss", "mae", "rmse", "mape", "r2"}
} | {"label_coverage"}

METRICS: dict[str, tuple[MetricScope, str]] = {}
"""Every metric a rule may name: name -> (scope, description). Extend with register_metric."""
BOUNDS: dict[str, tuple[float | None, float | None]] = {}


def register_metric(
    name: str,
    scope: MetricScope,
    description: str,
    bounds: tuple[float | None, float | None] | None = None,
) -> None:
    """Add a metric rules may name (drift and data-quality modules call this at import).

    ``bounds`` (low, high; None = open) refuse thresholds the metric can never take.
    Registering the same name again with the same scope replaces its description.
    """
    if not _NAME_RE.fullmatch(name):
        raise ValueError(f"metric name {name!r}: use letters, digits and '_', starting a letter")
    if scope not in ("model", "system"):
        raise ValueError(f"metric {name!r}: scope {scope!r} must be 'model' or 'system'")
    if name in METRICS and METRICS[name][0] != scope:
        raise ValueError(f"metric {name!r} is already a {METRICS[name][0]} metric")
    METRICS[name] = (scope, description)
    if bounds is None:
        BOUNDS.pop(name, None)
    else:
        BOUNDS[name] = bounds


def known_metrics(scope: MetricScope | None = None) -> tuple[str, ...]:
    """Names of the catalogue's metrics, of one scope or all."""
    return tuple(name for name, (s, _) in METRICS.items() if scope is None or s == scope)


for _name in dict.fromkeys(n for names in METRICS_BY_TASK.values() for n in names):
    register_metric(
        _name,
        "model",
        _DESCRIPTIONS.get(_name, f"model metric {_name}"),
        (0.0, 1.0) if _name in _FRACTIONS else (None, 1.0) if _name == "r2" else (0.0, None),
    )
register_metric("label_coverage", "model", "share of predictions with a label", (0.0, 1.0))
register_metric("count", "model", "predictions in the window (volume)", (0.0, None))
register_metric("throughput_per_min", "model", "predictions per minute", (0.0, None))
for _name in LATENCY_METRICS:
    _q = _name.removeprefix("latency_").removesuffix("_ms")
    _what = "maximum" if _q == "max" else f"{_q[1:]}th percentile"
    register_metric(_name, "model", f"{_what} of prediction latency, ms", (0.0, None))
register_metric("label_delay_p50_h", "model", "median delay of labels, hours", (0.0, None))
register_metric("label_delay_p90_h", "model", "90th percentile delay of labels, hours", (0.0, None))
for _name, _text in {
    "cpu_percent": "host CPU use, %",
    "memory_percent": "host memory in use, %",
    "disk_percent": "disk space in use, %",
    "gpu_util_percent": "GPU utilisation (busiest GPU), %",
    "gpu_memory_percent": "GPU memory in use (fullest GPU), %",
}.items():
    register_metric(_name, "system", _text, (0.0, 100.0))
