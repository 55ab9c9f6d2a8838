"""Every metric against scikit-learn on the same rows, for each task, with and without labels.

Where scikit-learn returns a stand-in (0.0 with an UndefinedMetricWarning, NaN, or r2 forced
to 0/1) our metric is None; the tests assert exactly where that happens.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as sk
from sklearn.calibration import calibration_curve as sk_calibration_curve

from monitoring.metrics import (
    METRICS_BY_TASK,
    binary_count_metrics,
    calibration_curve,
    compute_metrics,
    confusion_matrix,
    labelled,
    multiclass_count_metrics,
    per_class_recall,
    residuals,
)

SIZES = [1, 2, 3, 10, 101, 2000]
BINARY_CLASSES = [("no", "yes", "yes"), ("0", "1", "1"), ("0", "1", "0")]
CALIBRATION_COLUMNS = ["bin_lower", "bin_upper", "mean_score", "fraction_positive", "count"]
ANIMALS = np.array(["ant", "bird", "cat", "dog", "fish"], dtype=object)


def close(value: float) -> Any:
    """pytest.approx at the tolerance the issue asks for."""
    return pytest.approx(value, rel=1e-9, abs=1e-12)


@pytest.fixture(autouse=True)
def quiet_sklearn() -> Iterator[None]:
    """scikit-learn warns on the undefined cases these tests feed it on purpose."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def binary_rows(
    rng: np.random.Generator, n: int, classes: tuple[str, str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels, predictions that agree ~70% of the time, and scores with ties, NaN, 0 and 1."""
    names = np.array(classes, dtype=object)
    truth = names[rng.integers(0, 2, n)]
    flip = rng.random(n) < 0.3
    pred = np.where(flip, np.where(truth == names[0], names[1], names[0]), truth)
    scores = np.round(rng.random(n), 2)  # rounding makes ties
    scores[rng.random(n) < 0.05] = 0.0
    scores[rng.random(n) < 0.05] = 1.0
    scores[rng.random(n) < 0.1] = np.nan
    return truth, pred.astype(object), scores


def sk_or_none(fn: Callable[..., float], *args: Any, **kwargs: Any) -> float | None:
    """scikit-learn's value, with NaN (its 'undefined', via zero_division=nan) as None."""
    value = float(fn(*args, **kwargs))
    return None if np.isnan(value) else value


def sk_binary(
    truth: np.ndarray, pred: np.ndarray, scores: np.ndarray, positive: str
) -> dict[str, float | None]:
    """The oracle: scikit-learn on the same rows, score metrics on the rows with a score."""
    undefined = {"zero_division": np.nan, "pos_label": positive}
    actual = truth == positive
    scored = ~np.isnan(scores)
    y, s = actual[scored].astype(int), scores[scored]
    one_class = len(set(y)) < 2
    return {
        "accuracy": sk.accuracy_score(truth, pred),
        "precision": sk_or_none(sk.precision_score, truth, pred, **undefined),
        "recall": sk_or_none(sk.recall_score, truth, pred, **undefined),
        "f1": sk_or_none(sk.f1_score, truth, pred, **undefined),
        "roc_auc": None if one_class else sk.roc_auc_score(y, s),
        "pr_auc": None if y.sum() == 0 else sk.average_precision_score(y, s),
        "log_loss": None if len(y) == 0 else sk.log_loss(y, s, labels=[0, 1]),
        "brier": None if len(y) == 0 else sk.brier_score_loss(y, s, pos_label=1),
        "positive_rate_predicted": float(np.mean(pred == positive)),
        "positive_rate_actual": float(np.mean(actual)),
    }


def sk_multiclass(truth: np.ndarray, pred: np.ndarray) -> dict[str, float | None]:
    """The oracle with scikit-learn's default zero_division (0 for an undefined class)."""
    out: dict[str, float | None] = {"accuracy": sk.accuracy_score(truth, pred)}
    for avg in ("macro", "weighted"):
        out[f"precision_{avg}"] = sk.precision_score(truth, pred, average=avg)
        out[f"recall_{avg}"] = sk.recall_score(truth, pred, average=avg)
        out[f"f1_{avg}"] = sk.f1_score(truth, pred, average=avg)
    return {m: out[m] for m in METRICS_BY_TASK["multiclass"]}


def sk_regression(truth: np.ndarray, pred: np.ndarray) -> dict[str, float | None]:
    """The oracle; r2 None for a constant y_true, where sklearn forces 0 or 1."""
    return {
        "mae": sk.mean_absolute_error(truth, pred),
        "rmse": sk.root_mean_squared_error(truth, pred),
        "mape": sk.mean_absolute_percentage_error(truth, pred),
        "r2": None if np.all(truth == truth[0]) else sk.r2_score(truth, pred),
    }


def multiclass_rows(rng: np.random.Generator, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels of k classes and predictions (~60% right) that never name the last class."""
    classes = ANIMALS[:k]
    truth = classes[rng.integers(0, k, n)]
    pred = np.where(rng.random(n) < 0.6, truth, classes[rng.integers(0, k - 1, n)])
    return truth, np.where(pred == classes[-1], classes[0], pred)


def assert_same(ours: dict[str, float | None], oracle: dict[str, float | None]) -> None:
    """Same keys, None in the same places, values within 1e-9."""
    assert list(ours) == list(oracle)
    for name, expected in oracle.items():
        if expected is None:
            assert ours[name] is None, name
        else:
            assert ours[name] == close(expected), name


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize(("negative", "positive", "positive_class"), BINARY_CLASSES)
@pytest.mark.parametrize("seed", [0, 1])
def test_binary_equals_sklearn(
    n: int, negative: str, positive: str, positive_class: str, seed: int
) -> None:
    truth, pred, scores = binary_rows(np.random.default_rng(seed), n, (negative, positive))
    ours = compute_metrics("binary", truth, pred, scores, positive_class)
    assert_same(ours, sk_binary(truth, pred, scores, positive_class))


def test_binary_positive_class_defaults_to_1() -> None:
    truth, pred, scores = binary_rows(np.random.default_rng(3), 500, ("0", "1"))
    ours = compute_metrics("binary", truth, pred, scores)
    assert ours == compute_metrics("binary", truth, pred, scores, "1")
    assert ours != compute_metrics("binary", truth, pred, scores, "0")


def test_binary_without_scores_has_no_score_metrics() -> None:
    truth, pred, _ = binary_rows(np.random.default_rng(4), 300, ("no", "yes"))
    ours = compute_metrics("binary", truth, pred, None, "yes")
    assert [ours[m] for m in ("roc_auc", "pr_auc", "log_loss", "brier")] == [None] * 4
    assert ours["accuracy"] == close(sk.accuracy_score(truth, pred))
    assert compute_metrics("binary", truth, pred, np.full(300, np.nan), "yes") == ours


def test_binary_undefined_metrics_are_none_not_zero() -> None:
    # One class only, nothing predicted positive: sklearn gives 0.0 or NaN with a warning.
    truth, pred = np.array(["no"] * 4), np.array(["no"] * 4)
    scores = np.array([0.1, 0.2, 0.3, 0.4])
    ours = compute_metrics("binary", truth, pred, scores, "yes")
    assert sk.precision_score(truth == "yes", pred == "yes") == 0.0
    assert sk.average_precision_score(truth == "yes", scores) == 0.0
    assert [ours[m] for m in ("precision", "recall", "f1", "roc_auc", "pr_auc")] == [None] * 5
    # Log loss and Brier are defined with one class: every row still has a loss.
    assert ours["log_loss"] == close(sk.log_loss(truth == "yes", scores, labels=[False, True]))
    assert ours["brier"] == close(sk.brier_score_loss(truth == "yes", scores, pos_label=True))
    rates = ours["positive_rate_predicted"], ours["positive_rate_actual"]
    assert (ours["accuracy"], *rates) == (1.0, 0.0, 0.0)


def test_binary_f1_is_zero_when_positives_exist_but_none_predicted() -> None:
    truth, pred = np.array(["1", "1", "0"]), np.array(["0", "0", "0"])
    ours = compute_metrics("binary", truth, pred, np.array([0.3, np.nan, np.nan]))
    assert [ours[m] for m in ("accuracy", "precision", "recall", "f1")] == [1 / 3, None, 0, 0]
    assert sk.f1_score(truth, pred, pos_label="1", zero_division=np.nan) == 0.0
    assert ours["roc_auc"] is None  # only one scored row is left
    assert ours["log_loss"] == close(-np.log(0.3))


def test_binary_all_positive_pr_auc_is_one_and_roc_auc_none() -> None:
    truth, scores = np.array(["1"] * 5), np.array([0.9, 0.2, 0.5, 0.5, 0.7])
    ours = compute_metrics("binary", truth, truth, scores)
    assert (ours["pr_auc"], ours["roc_auc"]) == (1.0, None)
    assert sk.average_precision_score([1] * 5, scores) == 1.0


def test_log_loss_clips_like_sklearn() -> None:
    truth = np.array(["1", "0", "1", "0", "1"], dtype=object)
    scores = np.array([0.0, 1.0, 1.0, 0.0, 1e-300])
    ours = compute_metrics("binary", truth, truth, scores)
    expected = sk.log_loss(truth == "1", scores, labels=[False, True])
    assert ours["log_loss"] == close(expected)
    eps = np.finfo(np.float64).eps
    assert ours["log_loss"] == close(-(3 * np.log(eps) + 2 * np.log(1 - eps)) / 5)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("k", [3, 4, 5])
def test_multiclass_equals_sklearn(n: int, k: int) -> None:
    truth, pred = multiclass_rows(np.random.default_rng(10 * k + n), n, k)
    assert_same(compute_metrics("multiclass", truth, pred), sk_multiclass(truth, pred))


def test_multiclass_counts_a_never_predicted_class_as_precision_zero() -> None:
    truth, pred = np.array(["a", "b", "c", "c"]), np.array(["a", "b", "a", "b"])
    # Per class precision: a 1/2, b 1/2, c never predicted -> 0 (sklearn's default).
    expected = sk.precision_score(truth, pred, average="macro")
    assert compute_metrics("multiclass", truth, pred)["precision_macro"] == close(1 / 3) == expected


def test_confusion_matrix_equals_sklearn() -> None:
    rng = np.random.default_rng(5)
    truth, pred = ANIMALS[rng.integers(0, 5, 400)], ANIMALS[rng.integers(0, 4, 400)]
    names, counts = confusion_matrix(truth, pred)
    assert names == sorted(ANIMALS)
    np.testing.assert_array_equal(counts, sk.confusion_matrix(truth, pred))
    wanted = ["fish", "cat", "zebra", "ant"]
    names, counts = confusion_matrix(truth, pred, labels=wanted)
    assert names == wanted
    np.testing.assert_array_equal(counts, sk.confusion_matrix(truth, pred, labels=wanted))


def test_confusion_matrix_edges() -> None:
    names, counts = confusion_matrix(np.array([], dtype=object), np.array([], dtype=object))
    assert (names, counts.shape) == ([], (0, 0))
    truth = np.array(["a", "b"], dtype=object)
    with pytest.raises(ValueError, match="labels is empty"):
        confusion_matrix(truth, truth, labels=[])
    with pytest.raises(ValueError, match="duplicates"):
        confusion_matrix(truth, truth, labels=["a", "a"])


def test_per_class_recall_equals_sklearn_and_none_without_support() -> None:
    rng = np.random.default_rng(6)
    truth = ANIMALS[rng.integers(0, 4, 300)]  # "fish" never occurs ...
    pred = ANIMALS[rng.integers(0, 5, 300)]  # ... but is predicted
    names = sorted(ANIMALS)
    expected = sk.recall_score(truth, pred, labels=names, average=None)
    oracle = {n: None if n == "fish" else close(v) for n, v in zip(names, expected, strict=True)}
    assert per_class_recall(truth, pred) == oracle
    assert list(per_class_recall(truth, pred)) == names


def test_numbers_and_their_text_are_one_class() -> None:
    truth = np.array([1, 0, 1.0, True], dtype=object)
    pred = np.array(["1", "0", "0", "true"], dtype=object)
    names, counts = confusion_matrix(truth, pred)
    assert names == ["0", "1", "true"]
    np.testing.assert_array_equal(counts, [[1, 0, 0], [1, 1, 0], [0, 0, 1]])
    assert compute_metrics("binary", truth, pred)["accuracy"] == close(0.75)
    assert compute_metrics("binary", truth, pred, positive_class="true")["recall"] == 1.0


@pytest.mark.parametrize("n", SIZES)
def test_regression_equals_sklearn(n: int) -> None:
    rng = np.random.default_rng(n)
    truth = rng.normal(50, 20, n)
    truth[rng.random(n) < 0.1] = 0.0  # MAPE divides by max(|y|, eps) here
    pred = truth + rng.normal(0, 5, n)
    ours = compute_metrics("regression", truth, pred)
    assert_same(ours, sk_regression(truth, pred))
    assert (ours["r2"] is None) == (n == 1)


def test_regression_r2_is_none_for_a_constant_target() -> None:
    truth = np.full(5, 3.0)
    pred = np.array([3.0, 3.0, 3.5, 2.0, 3.0])
    assert sk.r2_score(truth, pred) == 0.0  # sklearn's force_finite stand-in
    ours = compute_metrics("regression", truth, pred)
    assert (ours["r2"], ours["mae"]) == (None, close(0.3))


def test_residuals() -> None:
    got = residuals(np.array([1.0, 2.5, -3.0]), np.array([0.5, 2.5, 1.0]))
    np.testing.assert_array_equal(got, [0.5, 0.0, -4.0])


@pytest.mark.parametrize("task", sorted(METRICS_BY_TASK))
def test_no_rows_gives_none_everywhere(task: str) -> None:
    empty = np.array([], dtype=float if task == "regression" else object)
    ours = compute_metrics(task, empty, empty, np.array([]) if task == "binary" else None)
    assert ours == dict.fromkeys(METRICS_BY_TASK[task])


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_metrics_on_labelled_rows_equal_sklearn_on_the_same_rows(task: str) -> None:
    rng = np.random.default_rng(8)
    n = 1000
    scores: np.ndarray | None = None
    if task == "binary":
        truth, pred, scores = binary_rows(rng, n, ("no", "yes"))
    elif task == "multiclass":
        truth, pred = multiclass_rows(rng, n, 4)
    else:
        truth = rng.normal(10, 3, n)
        pred = truth + rng.normal(0, 1, n)
    labels = truth.astype(object)
    labels[rng.random(n) < 0.2] = None
    labels[rng.random(n) < 0.1] = np.nan
    frame = pd.DataFrame({"prediction": pred, "label": labels, "score": scores})
    keep = np.array([v is not None and v == v for v in labels])  # NaN != NaN
    assert 600 < keep.sum() < 800
    rows = labelled(frame)
    assert len(rows) == keep.sum()
    assert list(rows.index) == list(range(len(rows)))
    y_true, y_pred = rows["label"].to_numpy(), rows["prediction"].to_numpy()
    if scores is not None:
        ours = compute_metrics(task, y_true, y_pred, rows["score"].to_numpy(), "yes")
        expected = sk_binary(truth[keep], pred[keep], scores[keep], "yes")
    else:
        ours = compute_metrics(task, y_true, y_pred)
        oracle = sk_multiclass if task == "multiclass" else sk_regression
        expected = oracle(truth[keep], pred[keep])
    assert_same(ours, expected)


def test_labelled_names_a_missing_column() -> None:
    with pytest.raises(ValueError, match="no 'label' column"):
        labelled(pd.DataFrame({"prediction": [1]}))


@pytest.mark.parametrize(
    ("task", "truth"),
    [("binary", ["1", None]), ("multiclass", ["a", np.nan]), ("regression", [1.0, np.nan])],
)
def test_unfiltered_missing_labels_are_an_error(task: str, truth: list[Any]) -> None:
    pred = np.array([1.0, 2.0]) if task == "regression" else np.array(["1", "a"], dtype=object)
    with pytest.raises(ValueError, match=r"y_true has 1 missing values.*labelled"):
        compute_metrics(task, np.array(truth, dtype=object), pred)


@pytest.mark.parametrize("bins", [1, 5, 10, 13])
@pytest.mark.parametrize("n", [1, 50, 3000])
def test_calibration_curve_equals_sklearn(bins: int, n: int) -> None:
    rng = np.random.default_rng(bins * n)
    scores = rng.beta(2, 5, n)
    scores[: min(n, 4)] = [0.0, 0.5, 1.0, 0.1][: min(n, 4)]  # edges go to the lower bin
    actual = rng.random(n) < scores
    missing = rng.random(n) < 0.1
    with_nan = np.where(missing, np.nan, scores)
    ours = calibration_curve(actual, with_nan, bins)
    fraction, mean_score = sk_calibration_curve(
        actual[~missing], scores[~missing], n_bins=bins, strategy="uniform"
    )
    assert list(ours.columns) == CALIBRATION_COLUMNS
    np.testing.assert_allclose(ours["fraction_positive"], fraction, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours["mean_score"], mean_score, rtol=1e-9, atol=1e-12)
    assert ours["count"].sum() == (~missing).sum()
    assert (ours["count"] > 0).all()
    assert (
        (ours["mean_score"] >= ours["bin_lower"]) & (ours["mean_score"] <= ours["bin_upper"])
    ).all()
    np.testing.assert_allclose(ours["bin_upper"] - ours["bin_lower"], 1 / bins)


def test_calibration_curve_without_scores_is_empty() -> None:
    ours = calibration_curve(np.array([True, False]), np.array([np.nan, np.nan]))
    assert ours.empty
    assert "fraction_positive" in ours.columns


def test_count_metrics_match_row_metrics() -> None:
    truth, pred, _ = binary_rows(np.random.default_rng(9), 700, ("0", "1"))
    (tn, fp), (fn, tp) = sk.confusion_matrix(truth, pred, labels=["0", "1"])
    from_counts = binary_count_metrics(tp=int(tp), fp=int(fp), fn=int(fn), tn=int(tn))
    from_rows = compute_metrics("binary", truth, pred)
    assert from_counts == {k: from_rows[k] for k in from_counts}
    truth3 = ANIMALS[np.random.default_rng(9).integers(0, 3, 100)]
    pred3 = np.roll(truth3, 1)
    multiclass = multiclass_count_metrics(confusion_matrix(truth3, pred3, list(ANIMALS))[1])
    assert multiclass == compute_metrics("multiclass", truth3, pred3)


ONE = np.array(["1"], dtype=object)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("ranking", ONE, ONE), "unknown task 'ranking'"),
        (("binary", ONE, ONE[:0]), "y_true has 1 rows but y_pred has 0"),
        (("binary", ONE, ONE, np.array([1.5])), r"scores must lie in \[0, 1\]"),
        (("binary", ONE, ONE, np.array([])), "scores has 0 rows"),
        (("regression", np.array(["x"]), np.array([1.0])), "y_true must be a one-dimensional"),
        (("regression", np.array([np.inf]), np.array([1.0])), "infinite values"),
    ],
)
def test_compute_metrics_bad_input_is_a_clear_error(args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        compute_metrics(*args)


def test_other_bad_input_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="bins must be a positive integer"):
        calibration_curve(np.array([True]), np.array([0.5]), 0)
    with pytest.raises(ValueError, match="square matrix"):
        multiclass_count_metrics(np.zeros((2, 3)))
