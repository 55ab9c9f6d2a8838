"""The model cache: trained once per seed, reloaded from disk, rebuilt when unreadable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.pipeline import Pipeline

from sample_data import load_or_train_model, positive_scores, reference_frame
from sample_data.model import cache_path
from tests.sample_data.conftest import SEED


def test_trained_model_is_cached_under_its_seed(model: Pipeline, model_cache: Path) -> None:
    path = cache_path(model_cache, SEED)
    assert path.is_file()
    assert f"seed{SEED}" in path.name
    assert [p.name for p in model_cache.iterdir()] == [path.name]


def test_cached_model_reloads_with_the_same_scores(model: Pipeline, model_cache: Path) -> None:
    modified = cache_path(model_cache, SEED).stat().st_mtime_ns
    reloaded = load_or_train_model(model_cache, seed=SEED)
    rows = reference_frame(seed=5, n=200)
    assert reloaded is not model
    np.testing.assert_array_equal(positive_scores(reloaded, rows), positive_scores(model, rows))
    assert cache_path(model_cache, SEED).stat().st_mtime_ns == modified


def test_unreadable_cache_is_replaced_by_a_fresh_model(tmp_path: Path, model: Pipeline) -> None:
    path = cache_path(tmp_path, SEED)
    path.write_bytes(b"not a joblib file")
    rebuilt = load_or_train_model(tmp_path, seed=SEED)
    rows = reference_frame(seed=6, n=200)
    np.testing.assert_allclose(positive_scores(rebuilt, rows), positive_scores(model, rows))
    assert path.read_bytes() != b"not a joblib file"
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]
