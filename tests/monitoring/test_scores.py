"""Score metrics from sorted parts: equal to scikit-learn's, and parts merge exactly."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from monitoring.scores import SCORE_METRICS, merge, score_metrics, sorted_scores


def _oracle(y: np.ndarray, s: np.ndarray) -> dict[str, float]:
    return {
        "roc_auc": roc_auc_score(y, s),
        "pr_auc": average_precision_score(y, s),
        "log_loss": log_loss(y, s, labels=[False, True]),
        "brier": brier_score_loss(y, s),
    }


@pytest.mark.parametrize("resolution", [None, 100, 3])  # distinct scores, some ties, many
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sorted_score_metrics_match_sklearn(seed: int, resolution: int | None) -> None:
    rng = np.random.default_rng(seed)
    s = rng.random(5000)
    if resolution:
        s = np.round(s * resolution) / resolution
    y = rng.random(5000) < s  # informative but imperfect scores
    got = score_metrics(sorted_scores(y, s))
    for name, want in _oracle(y, s).items():
        assert got[name] == pytest.approx(want, abs=1e-9), name


def test_merged_parts_equal_the_whole() -> None:
    rng = np.random.default_rng(7)
    s = np.round(rng.random(9000), 3)
    y = rng.random(9000) < 0.3
    parts = [sorted_scores(y[i : i + 2000], s[i : i + 2000]) for i in range(0, 9000, 2000)]
    whole, merged = score_metrics(sorted_scores(y, s)), score_metrics(merge(parts))
    for name in SCORE_METRICS:
        assert merged[name] == pytest.approx(whole[name], abs=1e-12), name
    assert merged["roc_auc"] == pytest.approx(roc_auc_score(y, s), abs=1e-9)


def test_unscored_rows_are_left_out_and_one_class_has_no_auc() -> None:
    y = np.array([True, True, False])
    s = np.array([0.9, 0.8, np.nan])
    got = score_metrics(sorted_scores(y, s))
    assert got["roc_auc"] is None  # only positives are scored
    assert got["pr_auc"] == pytest.approx(1.0)
    assert got["brier"] == pytest.approx(((1 - 0.9) ** 2 + (1 - 0.8) ** 2) / 2)
    assert score_metrics(sorted_scores(y[:0], s[:0])) == dict.fromkeys(SCORE_METRICS)


def test_calibration_of_parts_equals_the_curve_of_all_rows() -> None:
    from monitoring.metrics import calibration_curve
    from monitoring.scores import calibration

    rng = np.random.default_rng(3)
    s = np.round(rng.random(4000), 1)  # many scores exactly on bin edges
    s[::97] = np.nan
    y = rng.random(4000) < np.nan_to_num(s)
    parts = [sorted_scores(y[i : i + 1000], s[i : i + 1000]) for i in range(0, 4000, 1000)]
    got, want = calibration(parts, bins=10), calibration_curve(y, s, bins=10)
    assert got["count"].tolist() == want["count"].tolist()
    for column in ("bin_lower", "bin_upper", "mean_score", "fraction_positive"):
        assert got[column].to_numpy() == pytest.approx(want[column].to_numpy(), abs=1e-12)
    with pytest.raises(ValueError, match="bins must be a positive integer"):
        calibration(parts, bins=0)
