"""Shared fixtures: one trained model and small histories, built once per session."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sklearn.pipeline import Pipeline

from sample_data import History, build_history, load_or_train_model

END = datetime(2026, 11, 25, 17, tzinfo=UTC)
SEED = 42


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private model cache, so tests never depend on sample_data/cache/."""
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(scope="session")
def model(model_cache: Path) -> Pipeline:
    """The demo model for SEED, trained once into the session cache."""
    return load_or_train_model(model_cache, seed=SEED)


@pytest.fixture(scope="session")
def small_history(model: Pipeline) -> History:
    """30 days at 300 predictions a day: enough for record and label checks."""
    return build_history(SEED, days=30, per_day=300, end=END, model=model)


@pytest.fixture(scope="session")
def story_history(model: Pipeline) -> History:
    """30 days at 1,000 a day: enough rows for the story's statistics to be stable."""
    return build_history(SEED, days=30, per_day=1000, end=END, model=model)
