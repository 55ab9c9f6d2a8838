"""Model performance metrics in numpy, defined as scikit-learn defines them.

Rows are labelled rows only (`labelled` drops the others); a missing value is an error.
Class labels compare as storage keeps them: 1, 1.0 and "1" are one class. A binary model's
rows are positive (`positive_class`, default "1") or not: any other class counts as negative.

A metric that is undefined for the rows given is None, never a stand-in value:
- no rows: every metric is None;
- binary precision with no predicted positives, recall with no actual positives, F1 when
  there are neither (all rows true negatives);
- roc_auc when the scored rows hold one class only; pr_auc when they hold no positive;
  roc_auc, pr_auc, log_loss and brier when no row has a score (NaN = no score); log_loss
  and brier stay defined with one class, as every row still has a loss;
- r2 when y_true is constant (including one row).
Where scikit-learn returns a number instead (0.0 with an UndefinedMetricWarning, or r2 = 0/1
by `force_finite`), we return None. Everywhere else the values equal scikit-learn's.

Multiclass macro and weighted averages follow scikit-learn's default `zero_division`: a class
that occurs but is never predicted has precision 0 in the average (and a class predicted but
never true has recall 0); the averages run over every class seen in y_true or y_pred.
`per_class_recall` instead gives None for a class that never occurs in y_true.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from monitoring.scores import SCORE_METRICS, score_metrics, sorted_scores

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

METRICS_BY_TASK: dict[str, tuple[str, ...]] = {
    "binary": (
        "accuracy",
        "precision",
        "recall",
        "f1",
        "roc_auc",
        "pr_auc",
        "log_loss",
        "brier",
        "positive_rate_predicted",
        "positive_rate_actual",
    ),
    "multiclass": (
        "accuracy",
        "precision_macro",
        "recall_macro",
        "f1_macro",
        "precision_weighted",
        "recall_weighted",
        "f1_weighted",
    ),
    "regression": ("mae", "rmse", "mape", "r2"),
}

DEFAULT_POSITIVE_CLASS = "1"
_EPS = float(np.finfo(np.float64).eps)


def compute_metrics(
    task: str,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    scores: np.ndarray | None = None,
    positive_class: str | None = None,
) -> dict[str, float | None]:
    """Every metric of `task` (keys as METRICS_BY_TASK) over labelled rows; scores: binary only."""
    if task not in METRICS_BY_TASK:
        raise ValueError(f"unknown task {task!r}: use binary, multiclass or regression")
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} rows but y_pred has {len(y_pred)}")
    if task == "regression":
        values = _regression(_floats(y_true, "y_true"), _floats(y_pred, "y_pred"))
    elif task == "multiclass":
        values = multiclass_count_metrics(confusion_matrix(y_true, y_pred)[1])
    else:
        positive = _class_text(DEFAULT_POSITIVE_CLASS if positive_class is None else positive_class)
        names, truth, pred = _encode(y_true, y_pred)
        code = names.index(positive) if positive in names else -1
        actual, predicted = truth == code, pred == code
        values = binary_count_metrics(
            tp=int(np.count_nonzero(actual & predicted)),
            fp=int(np.count_nonzero(~actual & predicted)),
            fn=int(np.count_nonzero(actual & ~predicted)),
            tn=int(np.count_nonzero(~actual & ~predicted)),
        )
        values.update(
            _score_metrics(actual, None if scores is None else _scores(scores, len(actual)))
        )
    return {name: values[name] for name in METRICS_BY_TASK[task]}


def binary_count_metrics(tp: int, fp: int, fn: int, tn: int) -> dict[str, float | None]:
    """The binary metrics that need only the confusion counts (no scores)."""
    n = tp + fp + fn + tn
    return {
        "accuracy": _ratio(tp + tn, n),
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "positive_rate_predicted": _ratio(tp + fp, n),
        "positive_rate_actual": _ratio(tp + fn, n),
    }


def multiclass_count_metrics(counts: np.ndarray) -> dict[str, float | None]:
    """Multiclass metrics from a confusion matrix (rows true, columns predicted, same classes)."""
    matrix = np.asarray(counts, dtype=np.int64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"counts must be a square matrix, got shape {matrix.shape}")
    names = ("precision", "recall", "f1")
    total = int(matrix.sum())
    if total == 0:
        keys = [f"{m}_{avg}" for m in names for avg in ("macro", "weighted")]
        return dict.fromkeys(["accuracy", *keys])
    hits = np.diag(matrix).astype(np.float64)
    support = matrix.sum(axis=1)
    predicted = matrix.sum(axis=0)
    # Classes seen in neither y_true nor y_pred take no part, as in scikit-learn.
    seen = (support + predicted) > 0
    hits, support, predicted = hits[seen], support[seen], predicted[seen]
    per_class = {
        "precision": _safe_divide(hits, predicted),
        "recall": _safe_divide(hits, support),
        "f1": _safe_divide(2 * hits, support + predicted),
    }
    out: dict[str, float | None] = {"accuracy": float(hits.sum()) / total}
    for name in names:
        out[f"{name}_macro"] = float(np.mean(per_class[name]))
        out[f"{name}_weighted"] = float(np.average(per_class[name], weights=support))
    return out


def labelled(frame: pd.DataFrame, column: str = "label") -> pd.DataFrame:
    """The rows of `frame` whose `column` holds a label (drops None, NaN and NA), reindexed."""
    if column not in frame.columns:
        raise ValueError(
            f"frame has no {column!r} column (columns: {', '.join(map(str, frame.columns))})"
        )
    return frame.loc[frame[column].notna()].reset_index(drop=True)


def confusion_matrix(
    y_true: np.ndarray, y_pred: np.ndarray, labels: list[str] | None = None
) -> tuple[list[str], np.ndarray]:
    """Class names and counts[i, j] of rows with true class i predicted as j (others skipped)."""
    seen, truth, pred = _encode(y_true, y_pred)
    names = seen if labels is None else _label_list(labels)
    # Position of each seen class among `names`; -1 for a class not asked for.
    where = np.array([names.index(n) if n in names else -1 for n in seen], dtype=np.int64)
    t_idx, p_idx = where[truth], where[pred]
    keep = (t_idx >= 0) & (p_idx >= 0)
    k = len(names)
    flat = np.bincount(t_idx[keep] * k + p_idx[keep], minlength=k * k)
    return names, flat.reshape(k, k).astype(np.int64)


def per_class_recall(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float | None]:
    """Recall of every class seen in y_true or y_pred; None for a class never in y_true."""
    names, counts = confusion_matrix(y_true, y_pred)
    support = counts.sum(axis=1)
    return {name: _ratio(int(counts[i, i]), int(support[i])) for i, name in enumerate(names)}


def calibration_curve(
    y_true_is_positive: np.ndarray, scores: np.ndarray, bins: int = 10
) -> pd.DataFrame:
    """Mean score and fraction positive per uniform score bin; empty bins, NaN scores left out."""
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    actual = np.asarray(y_true_is_positive, dtype=bool)
    s = _scores(scores, len(actual))
    has_score = ~np.isnan(s)
    actual, s = actual[has_score], s[has_score]
    edges = np.linspace(0.0, 1.0, bins + 1)
    # Same bin rule as scikit-learn: a score on an inner edge belongs to the lower bin.
    ids = np.searchsorted(edges[1:-1], s)
    count = np.bincount(ids, minlength=bins)
    score_sum = np.bincount(ids, weights=s, minlength=bins)
    positive_sum = np.bincount(ids, weights=actual.astype(np.float64), minlength=bins)
    used = count > 0
    return pd.DataFrame(
        {
            "bin_lower": edges[:-1][used],
            "bin_upper": edges[1:][used],
            "mean_score": score_sum[used] / count[used],
            "fraction_positive": positive_sum[used] / count[used],
            "count": count[used].astype(np.int64),
        }
    )


def residuals(y_true: np.ndarray, y_pred: np.ndarray) -> FloatArray:
    """y_true - y_pred as floats."""
    truth, pred = _floats(y_true, "y_true"), _floats(y_pred, "y_pred")
    _same_length(truth, pred)
    return truth - pred


def _score_metrics(actual: BoolArray, scores: FloatArray | None) -> dict[str, float | None]:
    if scores is None:
        return dict.fromkeys(SCORE_METRICS)
    return score_metrics(sorted_scores(actual, scores))


def _regression(truth: FloatArray, pred: FloatArray) -> dict[str, float | None]:
    if len(truth) == 0:
        return dict.fromkeys(METRICS_BY_TASK["regression"])
    error = truth - pred
    squared = float(np.sum(error**2))
    constant_truth = bool(np.all(truth == truth[0]))
    total = float(np.sum((truth - np.mean(truth)) ** 2))
    return {
        "mae": float(np.mean(np.abs(error))),
        "rmse": float(np.sqrt(squared / len(error))),
        "mape": float(np.mean(np.abs(error) / np.maximum(np.abs(truth), _EPS))),
        "r2": None if constant_truth else 1.0 - squared / total,
    }


def _safe_divide(numerator: FloatArray, denominator: np.ndarray) -> FloatArray:
    out = np.zeros_like(numerator)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator > 0 else None


def _encode(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[list[str], IntArray, IntArray]:
    # Sorted class names and each row's index into them; 1, 1.0 and "1" are one class.
    truth, pred = _column(y_true), _column(y_pred)
    _same_length(truth, pred)
    combined = np.concatenate([truth, pred])
    codes, uniques = pd.factorize(combined)
    if not all(isinstance(u, str) for u in uniques):
        # Hashing merges 1, 1.0 and True: spell each value as storage does, then encode.
        spelled = pd.Series(combined, dtype=object).map(_class_text, na_action="ignore")
        codes, uniques = pd.factorize(spelled.to_numpy(dtype=object))
    for name, part in (("y_true", codes[: len(truth)]), ("y_pred", codes[len(truth) :])):
        if (part < 0).any():
            raise ValueError(
                f"{name} has {int((part < 0).sum())} missing values: pass only labelled rows "
                "(monitoring.metrics.labelled drops them)"
            )
    texts = np.array([_class_text(u) for u in uniques], dtype=str)
    names, inverse = np.unique(texts, return_inverse=True)
    index = inverse.astype(np.int64)[codes]
    return [str(n) for n in names], index[: len(truth)], index[len(truth) :]


def _class_text(value: object) -> str:
    # The same text storage keeps for a class label (storage.models.normalize_class).
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _column(values: np.ndarray) -> np.ndarray:
    out = np.asarray(values, dtype=object)
    if out.ndim != 1:
        raise ValueError(f"class labels must be one-dimensional, got shape {out.shape}")
    return out


def _as_floats(values: np.ndarray) -> FloatArray:
    # Through pandas so that None and pd.NA (nullable dtypes) become NaN instead of failing.
    out: FloatArray = pd.Series(values, copy=False).to_numpy(dtype=np.float64, na_value=np.nan)
    return out


def _floats(values: np.ndarray, name: str) -> FloatArray:
    try:
        out = _as_floats(values)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a one-dimensional array of numbers") from None
    if np.isnan(out).any():
        raise ValueError(
            f"{name} has {int(np.isnan(out).sum())} missing values: pass only labelled rows "
            "(monitoring.metrics.labelled drops them)"
        )
    if np.isinf(out).any():
        raise ValueError(f"{name} has infinite values: regression metrics need finite numbers")
    return out


def _scores(scores: np.ndarray, rows: int) -> FloatArray:
    try:
        out = _as_floats(scores)
    except (TypeError, ValueError):
        raise ValueError("scores must be a one-dimensional array of probabilities") from None
    if len(out) != rows:
        raise ValueError(f"scores has {len(out)} rows but y_true has {rows}")
    outside = (out < 0) | (out > 1)
    if outside.any():
        raise ValueError(
            f"scores must lie in [0, 1] (probability of the positive class); "
            f"{int(outside.sum())} values are outside, e.g. {out[outside][0]!r}"
        )
    return out


def _same_length(a: np.ndarray, b: np.ndarray) -> None:
    if len(a) != len(b):
        raise ValueError(f"y_true has {len(a)} rows but y_pred has {len(b)}")


def _label_list(labels: list[str]) -> list[str]:
    names = [str(label) for label in labels]
    if not names:
        raise ValueError("labels is empty: pass at least one class name, or None for all")
    if len(set(names)) != len(names):
        raise ValueError(f"labels has duplicates: {names}")
    return names
