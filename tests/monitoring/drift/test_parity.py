"""The drift engine against Evidently's DataDriftPreset: same method, score and decision."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from monitoring.drift import dataset_drift
from monitoring.drift.evidently_report import evidently_drift


def _evidently(
    reference: pd.DataFrame, current: pd.DataFrame, methods: dict[str, str] | None = None
) -> tuple[dict[str, Any], float]:
    """Per column (method, score, drifted) from Evidently's report dict, and drift share."""
    return evidently_drift(reference, current, methods)


def _close(ours: float, theirs: float) -> bool:
    return bool(np.isclose(ours, theirs, rtol=1e-6, atol=1e-9))


def _numeric(rng: np.random.Generator, n_ref: int, n_cur: int) -> tuple[pd.DataFrame, ...]:
    def frame(n: int, shift: float) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "normal": rng.normal(shift, 1.0, n),
                "wide": rng.normal(100 + 40 * shift, 30.0, n),
                "expo": rng.exponential(1.0 + shift, n),
                "rounded": np.round(rng.normal(0, 1 + shift, n), 1),
                "few_floats": rng.choice([0.5, 1.5, 2.5, 3.5], n).astype(float),
                "binary_float": rng.choice([0.0, 1.0], n, p=[0.7 - shift / 2, 0.3 + shift / 2]),
                "ints": rng.integers(0, 500, n),
                "ints_15": rng.integers(0, 15 + int(10 * shift), n),
                "const": np.full(n, 3.0),
            }
        )

    return frame(n_ref, 0.0), frame(n_cur, 0.2)


def _categorical(rng: np.random.Generator, n_ref: int, n_cur: int) -> tuple[pd.DataFrame, ...]:
    def frame(n: int, new: bool) -> pd.DataFrame:
        colours = ["red", "green", "blue"] + (["violet"] if new else [])
        return pd.DataFrame(
            {
                "colour": rng.choice(colours, n),
                "flag": rng.choice(["yes", "no"], n, p=[0.4, 0.6] if new else [0.5, 0.5]),
                "small_int": rng.integers(0, 7, n),
                "bool": rng.random(n) < (0.3 if new else 0.5),
                "single": np.full(n, "x"),
                "skewed": rng.choice(list("abcdef"), n, p=[0.5, 0.2, 0.1, 0.1, 0.05, 0.05]),
            }
        )

    return frame(n_ref, False), frame(n_cur, True)


def _mixed(rng: np.random.Generator, n_ref: int, n_cur: int) -> tuple[pd.DataFrame, ...]:
    num_ref, num_cur = _numeric(rng, n_ref, n_cur)
    cat_ref, cat_cur = _categorical(rng, n_ref, n_cur)
    ref = pd.concat([num_ref[["normal", "rounded", "ints"]], cat_ref[["colour", "flag"]]], axis=1)
    cur = pd.concat([num_cur[["normal", "rounded", "ints"]], cat_cur[["colour", "flag"]]], axis=1)
    return ref, cur


def _with_nulls(rng: np.random.Generator, n_ref: int, n_cur: int) -> tuple[pd.DataFrame, ...]:
    ref, cur = _mixed(rng, n_ref, n_cur)
    for frame, share in ((ref, 0.1), (cur, 0.3)):
        for column in ("normal", "rounded", "colour"):
            frame.loc[rng.random(len(frame)) < share, column] = None
        frame["normal"] = frame["normal"].astype("Float64").astype("float64")
        frame.loc[frame.index[:3], "rounded"] = np.inf
    return ref, cur


CASES = {
    "numeric_small_ref": (_numeric, 800, 600),
    "numeric_large_ref": (_numeric, 3000, 2000),
    "categorical_small_ref": (_categorical, 500, 400),
    "categorical_large_ref": (_categorical, 2500, 1500),
    "mixed_large_ref": (_mixed, 2000, 2500),
    "nulls_small_ref": (_with_nulls, 900, 700),
    "nulls_large_ref": (_with_nulls, 4000, 3000),
    "one_row_current": (_mixed, 1500, 1),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_methods_scores_and_decisions_as_evidently(case: str) -> None:
    make, n_ref, n_cur = CASES[case]
    reference, current = make(np.random.default_rng(sorted(CASES).index(case)), n_ref, n_cur)
    theirs, their_share = _evidently(reference, current)
    ours = dataset_drift(reference, current)
    their_text = {name for name, (method, _, _) in theirs.items() if method == "text"}
    assert set(ours.skipped) == their_text
    assert {c.column for c in ours.columns} == set(theirs) - their_text
    for col in ours.columns:
        method, score, drifted = theirs[col.column]
        assert col.score is not None
        assert col.method == method, col.column
        assert _close(col.score, score), (col.column, col.method, col.score, score)
        assert col.drifted == drifted, (col.column, col.method, col.score, col.threshold)
    if not their_text:
        assert ours.share == pytest.approx(their_share)
        assert ours.dataset_drift == (their_share >= 0.5)


OVERRIDES = {
    "normal": "psi",
    "wide": "jensenshannon",
    "expo": "ks",
    "rounded": "psi",
    "few_floats": "psi",
    "ints": "jensenshannon",
    "ints_15": "psi",
    "const": "psi",
    "binary_float": "jensenshannon",
}


@pytest.mark.parametrize("sizes", [(700, 500), (3000, 2000)])
def test_chosen_methods_match_evidently(sizes: tuple[int, int]) -> None:
    reference, current = _numeric(np.random.default_rng(sizes[0]), *sizes)
    cat_ref, cat_cur = _categorical(np.random.default_rng(sizes[1]), *sizes)
    reference = pd.concat([reference, cat_ref[["colour", "skewed", "small_int"]]], axis=1)
    current = pd.concat([current, cat_cur[["colour", "skewed", "small_int"]]], axis=1)
    methods = {**OVERRIDES, "colour": "psi", "skewed": "jensenshannon", "small_int": "psi"}
    theirs, _ = _evidently(reference, current, methods)
    ours = dataset_drift(reference, current, overrides={c: (m, None) for c, m in methods.items()})
    assert len(ours.columns) == len(theirs) == len(reference.columns)
    for col in ours.columns:
        method, score, drifted = theirs[col.column]
        assert col.method == method == methods.get(col.column, col.method)
        assert col.score is not None
        assert _close(col.score, score), (col.column, col.method, col.score, score)
        assert col.drifted == drifted, (col.column, col.method, col.score, col.threshold)
