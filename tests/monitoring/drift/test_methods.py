"""Each drift method against reference implementations, thresholds and edge cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial import distance

from monitoring.drift import (
    METHODS,
    DriftMethod,
    column_drift,
    column_kind,
    dataset_drift,
    default_method,
    get_method,
)
from monitoring.drift.binning import sturges_bin_count
from monitoring.drift.psi import psi_value
from monitoring.drift.wasserstein import wasserstein_1d

RNG = np.random.default_rng(42)
A = RNG.normal(0, 1, 700)
B = RNG.normal(0.3, 1.2, 450)


def test_ks_is_scipys_two_sided_p_value() -> None:
    assert METHODS["ks"].compute(A, B, "numeric") == pytest.approx(stats.ks_2samp(A, B).pvalue)


@pytest.mark.parametrize("sizes", [(1, 1), (1, 9), (7, 3), (700, 450), (1000, 1000)])
def test_wasserstein_matches_scipy(sizes: tuple[int, int]) -> None:
    a, b = RNG.normal(size=sizes[0]), RNG.exponential(size=sizes[1])
    assert wasserstein_1d(a, b) == pytest.approx(stats.wasserstein_distance(a, b), rel=1e-12)


def test_wasserstein_is_normed_by_the_reference_population_std() -> None:
    expected = stats.wasserstein_distance(A, B) / np.std(A)
    assert METHODS["wasserstein"].compute(A, B, "numeric") == pytest.approx(expected)
    # A constant reference divides by 0.001 instead of 0.
    const = np.full(10, 2.0)
    assert METHODS["wasserstein"].compute(const, const + 1, "numeric") == pytest.approx(1000)


def test_jensenshannon_matches_scipy_on_categories() -> None:
    ref = np.array(["a"] * 5 + ["b"] * 3 + ["c"] * 2, dtype=object)
    cur = np.array(["a"] * 2 + ["b"] * 2 + ["d"] * 6, dtype=object)
    expected = distance.jensenshannon([5, 3, 2, 0], [2, 2, 0, 6])
    assert METHODS["jensenshannon"].compute(ref, cur, "categorical") == pytest.approx(expected)


def test_jensenshannon_bins_numeric_columns_by_sturges() -> None:
    both = np.concatenate([A, B])
    edges = np.histogram_bin_edges(both, bins="sturges")
    p, q = np.histogram(A, edges)[0] / A.size, np.histogram(B, edges)[0] / B.size
    expected = distance.jensenshannon(p, q)
    assert METHODS["jensenshannon"].compute(A, B, "numeric") == pytest.approx(expected)


@pytest.mark.parametrize("size", [2, 3, 7, 100, 1001, 123_457])
def test_sturges_bin_count_is_numpys(size: int) -> None:
    x = RNG.normal(size=size)
    assert (
        sturges_bin_count(x.min(), x.max(), size) == len(np.histogram_bin_edges(x, "sturges")) - 1
    )


def test_psi_by_hand() -> None:
    ref, cur = np.array([0.5, 0.3, 0.2]), np.array([0.4, 0.4, 0.2])
    expected = 0.1 * np.log(0.5 / 0.4) + (-0.1) * np.log(0.3 / 0.4)
    assert psi_value(ref, cur) == pytest.approx(expected)
    # An empty bin takes a share of 1e-4 instead of 0.
    ref, cur = np.array([0.5, 0.5, 0.0]), np.array([0.5, 0.25, 0.25])
    expected = 0.25 * np.log(0.5 / 0.25) + (1e-4 - 0.25) * np.log(1e-4 / 0.25)
    assert psi_value(ref, cur) == pytest.approx(expected)


def test_chisquare_matches_scipy() -> None:
    ref = np.repeat(["a", "b", "c"], [50, 30, 20]).astype(object)
    cur = np.repeat(["a", "b", "c"], [20, 25, 15]).astype(object)
    expected = stats.chisquare([20, 25, 15], np.array([50, 30, 20]) * 0.6).pvalue
    assert METHODS["chisquare"].compute(ref, cur, "categorical") == pytest.approx(expected)


def test_z_matches_the_two_proportion_formula() -> None:
    ref = np.array([0] * 60 + [1] * 40)
    cur = np.array([0] * 30 + [1] * 50)
    p1, p2, pooled = 0.4, 50 / 80, 90 / 180
    z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1 / 100 + 1 / 80))
    expected = 2 * stats.norm.sf(abs(z))
    assert METHODS["z"].compute(ref, cur, "categorical") == pytest.approx(expected)


def test_thresholds_and_decisions() -> None:
    assert {m: METHODS[m].default_threshold for m in METHODS} == {
        "ks": 0.05,
        "chisquare": 0.05,
        "z": 0.05,
        "wasserstein": 0.1,
        "jensenshannon": 0.1,
        "psi": 0.1,
    }
    ks, chi, js = METHODS["ks"], METHODS["chisquare"], METHODS["jensenshannon"]
    assert ks.drifted(0.01, 0.05) and not ks.drifted(0.2, 0.05)
    assert ks.drifted(0.05, 0.05) and not chi.drifted(0.05, 0.05)  # Evidently: <= vs <
    assert js.drifted(0.1, 0.1) and js.drifted(0.3, 0.1) and not js.drifted(0.05, 0.1)
    assert not js.drifted(float("nan"), 0.1)
    drift = column_drift(pd.Series(A), pd.Series(B), method="ks", threshold=1e-30)
    assert (drift.method, drift.threshold, drift.drifted) == ("ks", 1e-30, False)


def test_default_method_follows_evidently() -> None:
    small, large = RNG.normal(size=1000), RNG.normal(size=1001)
    few = np.array([1.0, 2.0, 3.0] * 400)
    assert default_method("numeric", small, small) == "ks"
    assert default_method("numeric", few[:900], few) == "chisquare"
    assert default_method("numeric", np.array([1.0, 2.0] * 400), few[:2]) == "z"
    assert default_method("categorical", np.array(["a", "b"] * 10), np.array(["c"])) == "chisquare"
    assert default_method("numeric", large, large) == "wasserstein"
    assert default_method("numeric", few, few) == "jensenshannon"
    assert default_method("categorical", np.array(["a"] * 2000), np.array(["a"])) == "jensenshannon"


def test_column_kind_like_evidently() -> None:
    assert column_kind(pd.Series([1.0, 2.0])) == "numeric"
    assert column_kind(pd.Series(range(10))) == "categorical"
    assert column_kind(pd.Series(range(11))) == "numeric"
    assert column_kind(pd.Series(["a", "b", "a", "a"])) == "categorical"
    assert column_kind(pd.Series(["a", "b", "c", None])) == "text"
    assert column_kind(pd.Series([True, False])) == "categorical"
    assert column_kind(pd.Series(["a", "b"] * 5, dtype="category")) == "categorical"
    assert column_kind(pd.Series(pd.to_datetime(["2024-01-01"]))) == "unsupported"
    assert column_kind(pd.Series([1.5, None], dtype="Float64")) == "numeric"


def test_nulls_and_infinities_are_dropped_first() -> None:
    ref = pd.Series(np.concatenate([A, [np.nan, np.inf, -np.inf]]))
    cur = pd.Series(np.concatenate([B, [np.nan] * 50]))
    drift = column_drift(ref, cur)
    assert drift.score == pytest.approx(stats.ks_2samp(A, B).pvalue)


@pytest.mark.parametrize("empty", ["reference", "current"])
def test_an_all_null_window_gives_no_score(empty: str) -> None:
    nulls, values = pd.Series([np.nan] * 20), pd.Series(A)
    ref, cur = (nulls, values) if empty == "reference" else (values, nulls)
    drift = column_drift(ref, cur, kind="numeric")
    assert drift.score is None and not drift.drifted
    result = dataset_drift(
        pd.DataFrame({"x": ref}), pd.DataFrame({"x": cur}), kinds={"x": "numeric"}
    )
    assert (result.n_tested, result.share, result.dataset_drift) == (0, 0.0, False)


def test_a_constant_column_does_not_drift() -> None:
    const = pd.Series(np.full(3000, 7.0))
    for method in (None, "ks", "wasserstein", "psi", "jensenshannon", "z", "chisquare"):
        drift = column_drift(const, const.iloc[:100], method=method)
        assert drift.score is not None and not drift.drifted, method


def test_a_category_never_seen_in_the_reference_drifts() -> None:
    ref = pd.Series(["a", "b", "c"] * 100)
    cur = pd.Series(["a", "b", "c", "new"] * 25)
    drift = column_drift(ref, cur)
    assert (drift.method, drift.score, drift.drifted) == ("chisquare", 0.0, True)
    psi = column_drift(ref, cur, method="psi")
    assert psi.score is not None and np.isfinite(psi.score) and psi.drifted


@pytest.mark.parametrize("method", [None, "ks", "wasserstein", "psi", "jensenshannon"])
def test_a_one_row_current_window_has_a_score(method: str | None) -> None:
    drift = column_drift(pd.Series(A), pd.Series([0.1]), method=method)
    assert drift.score is not None and np.isfinite(drift.score)


def test_bad_method_name_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown drift method 'kss'.*jensenshannon.*wasserstein"):
        get_method("kss")
    with pytest.raises(ValueError, match="does not apply to categorical"):
        column_drift(pd.Series(["a"]), pd.Series(["b"]), method="ks", kind="categorical")


def test_dataset_drift_share_and_overrides() -> None:
    ref = pd.DataFrame({"a": A[:400], "b": A[:400], "c": A[:400], "d": ["x"] * 400})
    cur = pd.DataFrame({"a": B[:300] + 3, "b": B[:300] + 3, "c": A[:300], "d": ["x"] * 300})
    result = dataset_drift(ref, cur)
    assert [c.drifted for c in result.columns] == [True, True, False, False]
    assert result.share == 0.5 and result.dataset_drift
    assert not dataset_drift(ref, cur, drift_share=0.6).dataset_drift
    pinned = dataset_drift(ref, cur, columns=["a"], overrides={"a": ("psi", 100.0)})
    assert [(c.method, c.threshold, c.drifted) for c in pinned.columns] == [("psi", 100.0, False)]


def test_register_refuses_a_taken_name() -> None:
    from monitoring.drift import register

    with pytest.raises(ValueError, match="already registered"):
        register(METHODS["ks"])
    assert isinstance(METHODS["ks"], DriftMethod)


def test_an_all_null_string_window_takes_its_kind_from_the_other() -> None:
    ref = pd.Series(["a", "b"] * 50)
    cur = pd.Series([None] * 10, dtype=object)
    drift = column_drift(ref, cur)
    assert (drift.kind, drift.score, drift.drifted) == ("categorical", None, False)
    result = dataset_drift(pd.DataFrame({"s": ref}), pd.DataFrame({"s": cur}))
    assert result.skipped == () and result.columns[0].score is None


def test_kinds_from_the_reference_keep_strings_categorical_in_a_one_row_window() -> None:
    ref = pd.DataFrame({"s": ["a", "b"] * 50})
    cur = pd.DataFrame({"s": ["a"]})
    assert dataset_drift(ref, cur).skipped == ("s",)  # Evidently: one distinct of one = text
    steady = dataset_drift(ref, cur, kinds_from="reference")
    assert [(c.kind, c.method) for c in steady.columns] == [("categorical", "z")]
