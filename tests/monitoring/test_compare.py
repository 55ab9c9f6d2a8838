"""Champion/challenger comparison: bootstrap CIs of the difference and the accuracy z-test."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from monitoring import compare, resample
from monitoring.compare import Comparison, compare_versions, two_proportion_p_value
from monitoring.metrics import (
    METRICS_BY_TASK,
    binary_count_metrics,
    compute_metrics,
    multiclass_count_metrics,
)


def _binary(n: int, correct_share: float, seed: int) -> pd.DataFrame:
    """Exactly round(n * correct_share) correct rows, half the labels positive, with scores."""
    rng = np.random.default_rng(seed)
    label = np.tile(["0", "1"], n // 2)
    correct = np.zeros(n, dtype=bool)
    correct[: round(n * correct_share)] = True
    rng.shuffle(correct)
    prediction = np.where(correct, label, np.where(label == "1", "0", "1"))
    noise = rng.uniform(0.0, 0.5, n)
    score = np.where(prediction == "1", 0.5 + noise, 0.5 - noise).clip(0, 1)
    score[rng.random(n) < 0.05] = np.nan  # some predictions came without a score
    return pd.DataFrame({"label": label, "prediction": prediction, "score": score})


def _regression(n: int, noise: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    label = rng.normal(20.0, 5.0, n)
    return pd.DataFrame({"label": label, "prediction": label + rng.normal(0.0, noise, n)})


def _multiclass(n: int, classes: int, hit_rate: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    label = rng.integers(0, classes, n)
    prediction = np.where(rng.random(n) < hit_rate, label, rng.integers(0, classes, n))
    return pd.DataFrame({"label": label.astype(str), "prediction": prediction.astype(str)})


def _by_metric(results: list[Comparison]) -> dict[str, Comparison]:
    return {c.metric: c for c in results}


def test_known_accuracy_difference_is_inside_the_ci_and_significant() -> None:
    n = 20_000
    result = _by_metric(compare_versions("binary", _binary(n, 0.80, 1), _binary(n, 0.83, 2)))
    acc = result["accuracy"]
    assert acc.a == pytest.approx(0.80)
    assert acc.b == pytest.approx(0.83)
    assert acc.diff == pytest.approx(0.03)
    assert acc.ci_low is not None and acc.ci_high is not None
    assert acc.ci_low < 0.03 < acc.ci_high
    assert acc.significant and acc.ci_low > 0
    # The bootstrap spread matches the normal theory of two independent proportions.
    se = math.sqrt(0.80 * 0.20 / n + 0.83 * 0.17 / n)
    assert acc.ci_high - acc.ci_low == pytest.approx(2 * 1.96 * se, rel=0.15)
    assert acc.method == "bootstrap 95% CI"
    assert acc.p_value is not None and acc.p_value < 1e-10
    assert [c.metric for c in result.values()] == list(METRICS_BY_TASK["binary"])


def test_known_regression_difference() -> None:
    result = _by_metric(
        compare_versions("regression", _regression(20_000, 1.0, 1), _regression(20_000, 1.2, 2))
    )
    rmse = result["rmse"]
    assert rmse.ci_low is not None and rmse.ci_high is not None
    assert rmse.ci_low < 0.2 < rmse.ci_high  # the noise levels differ by 0.2
    assert rmse.significant and rmse.ci_low > 0
    assert result["r2"].significant and (result["r2"].ci_high or 0) < 0
    assert result["mae"].p_value is None


@pytest.mark.parametrize(
    ("task", "frame"),
    [
        ("binary", _binary(4_000, 0.8, 5)),
        ("regression", _regression(4_000, 1.0, 5)),
        ("multiclass", _multiclass(4_000, 4, 0.7, 5)),
    ],
)
def test_identical_versions_are_not_significantly_different(task: str, frame: pd.DataFrame) -> None:
    for c in compare_versions(task, frame, frame.copy(), n_boot=500):
        assert c.diff == 0.0
        assert c.ci_low is not None and c.ci_high is not None
        assert c.ci_low < 0 < c.ci_high, c
        assert not c.significant


def test_same_distribution_covers_zero() -> None:
    result = compare_versions("binary", _binary(10_000, 0.8, 7), _binary(10_000, 0.8, 8))
    accuracy = _by_metric(result)["accuracy"]
    assert accuracy.ci_low is not None and accuracy.ci_high is not None
    assert accuracy.ci_low < 0 < accuracy.ci_high
    assert not accuracy.significant
    assert accuracy.p_value == pytest.approx(1.0)  # equal shares of correct rows


def test_deterministic_with_a_seed() -> None:
    a, b = _binary(3_000, 0.8, 1), _binary(3_000, 0.82, 2)
    first = compare_versions("binary", a, b, n_boot=300, seed=11)
    assert compare_versions("binary", a, b, n_boot=300, seed=11) == first
    other = compare_versions("binary", a, b, n_boot=300, seed=12)
    assert [c.ci_low for c in other] != [c.ci_low for c in first]
    # A metric's CI does not depend on which other metrics are asked for.
    alone = compare_versions("binary", a, b, metrics=["roc_auc"], n_boot=300, seed=11)
    assert alone == [_by_metric(first)["roc_auc"]]


def test_point_values_equal_compute_metrics() -> None:
    a, b = _binary(2_000, 0.7, 3), _binary(2_000, 0.9, 4)
    result = compare_versions("binary", a, b, n_boot=50)
    expected_b = compute_metrics(
        "binary",
        b["label"].to_numpy(object),
        b["prediction"].to_numpy(object),
        b["score"].to_numpy(),
    )
    for c in result:
        assert c.b == pytest.approx(expected_b[c.metric], abs=1e-12)
        assert c.diff == pytest.approx((c.b or 0) - (c.a or 0), abs=1e-12)


def test_ranking_metrics_use_fewer_resamples() -> None:
    a, b = _binary(2_000, 0.8, 1), _binary(2_000, 0.85, 2)
    result = _by_metric(
        compare_versions("binary", a, b, n_boot=400, n_boot_auc=100, confidence=0.9)
    )
    assert result["roc_auc"].method == "bootstrap 90% CI (100 resamples)"
    assert result["pr_auc"].method == "bootstrap 90% CI (100 resamples)"
    assert result["log_loss"].method == "bootstrap 90% CI"
    low, high = result["roc_auc"].ci_low, result["roc_auc"].ci_high
    assert low is not None and high is not None and low < (result["roc_auc"].diff or 0) < high


def test_score_and_regression_resamples_equal_compute_metrics() -> None:
    """Every resample's value is compute_metrics on the resampled rows (the engines' streams)."""
    rng = np.random.default_rng(9)
    n = 300
    frame = pd.DataFrame(
        {
            "label": rng.integers(0, 2, n).astype(str),
            "prediction": rng.integers(0, 2, n).astype(str),
            "score": np.round(rng.random(n), 2),  # rounded: many tied scores
        }
    )
    frame.loc[rng.random(n) < 0.1, "score"] = np.nan
    names = METRICS_BY_TASK["binary"]
    sample = compare._sample("binary", frame, "a")
    boot = compare._bootstrap("binary", sample, names, "1", 40, 40, (7, 0))
    for engine, metrics in ((1, ("log_loss", "brier")), (2, ("roc_auc", "pr_auc"))):
        chunks = resample.index_chunks(np.random.default_rng([7, 0, engine]), n, 40)
        for i, idx in enumerate(np.concatenate(list(chunks))):
            s = sample.scores
            assert s is not None
            expected = compute_metrics("binary", sample.truth[idx], sample.pred[idx], s[idx])
            for name in metrics:
                assert boot[name][i] == pytest.approx(expected[name], abs=1e-9), (name, i)

    reg = compare._sample("regression", _regression(n, 2.0, 4), "a")
    boot = compare._bootstrap("regression", reg, METRICS_BY_TASK["regression"], "1", 40, 40, (7, 0))
    chunks = resample.index_chunks(np.random.default_rng([7, 0, 0]), n, 40)
    for i, idx in enumerate(np.concatenate(list(chunks))):
        expected = compute_metrics("regression", reg.truth[idx], reg.pred[idx])
        for name, value in expected.items():
            assert boot[name][i] == pytest.approx(value, abs=1e-9), (name, i)


@pytest.mark.parametrize(
    "cells", [[30, 5, 7, 58], [0, 0, 10, 90], [0, 4, 0, 6], [10, 0, 0, 0], [0, 0, 0, 5]]
)
def test_binary_count_formulas_equal_compute_metrics(cells: list[int]) -> None:
    got = resample.binary_formulas(np.array([cells], dtype=np.float64))
    for name, value in binary_count_metrics(*cells).items():
        assert (math.nan if value is None else value) == pytest.approx(got[name][0], nan_ok=True)


def test_multiclass_count_formulas_equal_compute_metrics() -> None:
    rng = np.random.default_rng(2)
    matrices = rng.integers(0, 6, size=(50, 4, 4)).astype(np.float64)
    matrices[:10, 2, :] = 0  # class 2 never true
    matrices[10:20, :, 1] = 0  # class 1 never predicted
    matrices[20:30, 3, :] = matrices[20:30, :, 3] = 0  # class 3 absent
    got = resample.multiclass_formulas(matrices)
    for i, matrix in enumerate(matrices):
        for name, value in multiclass_count_metrics(matrix).items():
            assert got[name][i] == pytest.approx(value, abs=1e-12), (name, i)


def test_many_classes_fall_back_to_compute_metrics() -> None:
    a, b = _multiclass(1_400, 70, 0.6, 1), _multiclass(1_400, 70, 0.9, 2)
    result = _by_metric(compare_versions("multiclass", a, b, n_boot=500, n_boot_auc=30))
    accuracy = result["accuracy"]
    assert accuracy.method == "bootstrap 95% CI (30 resamples)"
    assert accuracy.ci_low is not None and accuracy.ci_high is not None
    assert 0 < accuracy.ci_low < (accuracy.diff or 0) < accuracy.ci_high
    assert accuracy.significant


@pytest.mark.parametrize(
    ("hits_a", "n_a", "hits_b", "n_b"),
    [(800, 1000, 830, 1000), (45, 60, 30, 50), (5000, 10000, 5100, 10000), (1, 7, 6, 9)],
)
def test_z_test_p_value(hits_a: int, n_a: int, hits_b: int, n_b: int) -> None:
    pooled = (hits_a + hits_b) / (n_a + n_b)
    z = (hits_b / n_b - hits_a / n_a) / math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    expected = 2 * stats.norm.sf(abs(z))
    assert two_proportion_p_value(hits_a, n_a, hits_b, n_b) == pytest.approx(expected, rel=1e-9)
    # The same test as a 2x2 chi-square without continuity correction: z squared is chi2.
    table = [[hits_a, n_a - hits_a], [hits_b, n_b - hits_b]]
    chi2 = stats.chi2_contingency(table, correction=False)
    assert two_proportion_p_value(hits_a, n_a, hits_b, n_b) == pytest.approx(chi2.pvalue, rel=1e-9)


def test_z_test_edges() -> None:
    assert two_proportion_p_value(10, 10, 20, 20) == 1.0  # all correct on both sides
    assert two_proportion_p_value(0, 0, 5, 10) is None


def test_accuracy_p_value_uses_the_correct_counts() -> None:
    a, b = _binary(1_000, 0.80, 1), _binary(1_200, 0.85, 2)
    accuracy = _by_metric(compare_versions("binary", a, b, metrics=["accuracy"], n_boot=100))[
        "accuracy"
    ]
    assert accuracy.p_value == pytest.approx(two_proportion_p_value(800, 1_000, 1_020, 1_200))


def test_version_without_rows() -> None:
    empty = pd.DataFrame(
        {"label": pd.Series([], dtype=object), "prediction": pd.Series([], dtype=object)}
    )
    result = compare_versions("multiclass", _multiclass(500, 3, 0.8, 1), empty, n_boot=100)
    for c in result:
        assert c.a is not None
        assert (c.b, c.diff, c.ci_low, c.ci_high, c.significant) == (None, None, None, None, False)
    assert _by_metric(result)["accuracy"].p_value is None


def test_unlabelled_rows_are_dropped_and_binary_without_scores() -> None:
    a = _binary(1_000, 0.8, 1).drop(columns="score")
    b = a.copy()
    b.loc[:99, "label"] = None
    result = _by_metric(compare_versions("binary", a, b, n_boot=100))
    assert result["accuracy"].b == pytest.approx(
        compute_metrics(
            "binary", a["label"][100:].to_numpy(object), a["prediction"][100:].to_numpy(object)
        )["accuracy"]
    )
    roc = result["roc_auc"]
    assert (roc.a, roc.b, roc.ci_low, roc.significant) == (None, None, None, False)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"task": "ranking"}, "unknown task 'ranking'"),
        (
            {"metrics": ["accuracy", "mae"]},
            "unknown metric(s) mae for a binary model; known: accuracy",
        ),
        ({"n_boot": 0}, "n_boot must be an integer of at least 1, got 0"),
        ({"n_boot_auc": 2.5}, "n_boot_auc must be an integer of at least 1"),
        ({"seed": -1}, "seed must be an integer of at least 0"),
        ({"confidence": 95}, "confidence must be between 0 and 1"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    frame = _binary(100, 0.8, 1)
    args: dict[str, object] = {"task": "binary", "a": frame, "b": frame, **kwargs}
    with pytest.raises(ValueError) as info:
        compare_versions(**args)  # type: ignore[arg-type]
    assert message in str(info.value)


def test_missing_column_is_named() -> None:
    frame = _binary(100, 0.8, 1)
    with pytest.raises(ValueError, match="frame b lacks column\\(s\\) prediction"):
        compare_versions("binary", frame, frame.drop(columns="prediction"))


@pytest.mark.parametrize("metric", ["accuracy", "log_loss", "roc_auc", "brier"])
def test_rescaled_subsample_bootstrap_matches_the_full_bootstrap(metric: str) -> None:
    a, b = _binary(40_000, 0.80, seed=1), _binary(40_000, 0.81, seed=2)
    full = _by_metric(compare_versions("binary", a, b, [metric], n_boot=400, max_rows=10**9))
    small = _by_metric(compare_versions("binary", a, b, [metric], n_boot=400, max_rows=4_000))
    f, s = full[metric], small[metric]
    assert s.diff == f.diff  # values come from every row
    assert f.ci_low is not None and f.ci_high is not None
    assert s.ci_low is not None and s.ci_high is not None
    width_full, width_small = f.ci_high - f.ci_low, s.ci_high - s.ci_low
    assert width_small == pytest.approx(width_full, rel=0.3)
    assert (s.ci_low + s.ci_high) / 2 == pytest.approx((f.ci_low + f.ci_high) / 2, abs=width_full)
    assert "m-out-of-n: 4,000-row subsamples, rescaled" in s.method
    assert "m-out-of-n" not in f.method


def test_population_values_and_counts_are_used_for_sampled_frames() -> None:
    a, b = _binary(20_000, 0.70, seed=3), _binary(20_000, 0.90, seed=4)
    pa = compare.Population(200_000, compute_metrics("binary", a["label"], a["prediction"]))
    pb = compare.Population(200_000, {**compute_metrics("binary", b["label"], b["prediction"])})
    sampled = _by_metric(compare_versions("binary", a, b, ["accuracy"], population=(pa, pb)))
    plain = _by_metric(compare_versions("binary", a, b, ["accuracy"]))
    got, own = sampled["accuracy"], plain["accuracy"]
    assert got.a == pa.values["accuracy"] and got.b == pb.values["accuracy"]
    assert got.ci_low is not None and got.ci_high is not None
    assert own.ci_low is not None and own.ci_high is not None
    # Ten times the rows: the interval narrows by about sqrt(10).
    ratio = (own.ci_high - own.ci_low) / (got.ci_high - got.ci_low)
    assert ratio == pytest.approx(math.sqrt(10), rel=0.2)
    assert got.p_value is not None and own.p_value is not None and got.p_value <= own.p_value


def test_max_rows_must_be_a_sensible_integer() -> None:
    a = _binary(200, 0.8, seed=5)
    with pytest.raises(ValueError, match="max_rows must be an integer of at least 100"):
        compare_versions("binary", a, a, max_rows=10)
