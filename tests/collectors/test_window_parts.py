"""Window parts and their cache: cached answers equal fresh ones after every kind of change.

Each test computes with a PartCache, changes the data through the real IngestService (new
predictions in one window, a replaced label in another, a label arriving before its
prediction), and checks the cached answer against a computation without a cache, and that
only the changed windows were recomputed.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from sklearn import metrics as sk

from collectors.ingest import IngestService
from collectors.performance import (
    metric_rows,
    overall_from_parts,
    overall_metrics,
    total_confusion,
    worst_segments,
)
from collectors.window_parts import PartCache, WindowPart, window_parts
from monitoring.scores import SortedScores
from storage import Store
from tests.storage.test_performance import DAYS, FAR_FUTURE, T0, load

END = T0 + timedelta(days=DAYS)


@pytest.fixture(autouse=True)
def quiet_sklearn() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _views(store: Store, name: str, cache: PartCache | None) -> dict[str, Any]:
    con = store.cursor()
    model = store_model(store, name)
    return {
        "rows": metric_rows(con, model, T0, END, "1d", now=FAR_FUTURE, cache=cache),
        "overall": overall_metrics(con, model, T0, END, cache=cache),
        "worst": worst_segments(con, model, T0, END, "accuracy", window="1d", cache=cache).to_dict(
            "records"
        )
        if model.task != "regression"
        else None,
    }


def store_model(store: Store, name: str) -> Any:
    from storage.models import get_model

    model = get_model(store.cursor(), name)
    assert model is not None
    return model


def _late_records(day: int, n: int, prefix: str) -> list[dict[str, Any]]:
    ts = T0 + timedelta(days=day, hours=1)
    return [
        {
            "event_id": f"{prefix}{i}",
            "timestamp": (ts + timedelta(seconds=i)).isoformat(),
            "prediction": i % 2,
            "score": (i % 10) / 10,
            "latency_ms": 5.0 + i,
            "features": {"x": 0.5, "region": "west"},
            "tags": {"channel": "web"},
        }
        for i in range(n)
    ]


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_cached_views_equal_fresh_ones_after_each_change(
    ingest: IngestService, store: Store, task: str
) -> None:
    _, frame = load(ingest, task)
    cache = PartCache()
    assert _views(store, task, cache) == _views(store, task, None)
    first_misses = cache.misses
    assert _views(store, task, cache) == _views(store, task, None)
    assert cache.misses == first_misses  # nothing changed: every part reused

    labelled = frame.dropna(subset=["label"])
    old = labelled.iloc[5]  # a label in an early window changes its value
    new_label = 1.5 if task == "regression" else ("1" if old["label"] == "0" else "0")
    if task == "multiclass":
        new_label = "bird" if old["label"] != "bird" else "cat"
    ingest.labels(task, [{"event_id": old["event_id"], "label": new_label}])
    assert _views(store, task, cache) == _views(store, task, None)

    if task == "binary":  # a label before its prediction, then new rows in the last window
        ingest.labels(task, [{"event_id": "late0", "label": 1}])
        ingest.predictions(task, _late_records(DAYS - 1, 40, "late"))
        misses = cache.misses
        assert _views(store, task, cache) == _views(store, task, None)
        # One window changed: the 1d views recompute one part each (and the whole-range
        # overall its single part), not the other days.
        assert cache.misses - misses == 3


def test_overall_from_parts_matches_sklearn_on_the_whole_range(
    ingest: IngestService, store: Store
) -> None:
    model, frame = load(ingest, "binary")
    parts = window_parts(store.cursor(), model, T0, END, "1d", cache=PartCache())
    got = overall_from_parts(model, parts)
    rows = frame.dropna(subset=["label"])
    scored = rows.dropna(subset=["score"])
    assert got["count"] == len(frame) and got["labeled"] == len(rows)
    assert got["accuracy"] == pytest.approx(sk.accuracy_score(rows["label"], rows["prediction"]))
    assert got["roc_auc"] == pytest.approx(
        sk.roc_auc_score(scored["label"] == "1", scored["score"]), abs=1e-9
    )
    assert got["pr_auc"] == pytest.approx(
        sk.average_precision_score(scored["label"] == "1", scored["score"]), abs=1e-9
    )
    assert sum(total_confusion(parts).values()) == len(rows)
    whole = overall_metrics(store.cursor(), model, T0, END)
    assert {k: got[k] for k in got} == pytest.approx({k: whole[k] for k in got}, abs=1e-12)


def test_regression_parts_do_not_add_up_and_say_so(ingest: IngestService, store: Store) -> None:
    model, _ = load(ingest, "regression")
    parts = window_parts(store.cursor(), model, T0, END, "1d")
    with pytest.raises(ValueError, match="use overall_metrics"):
        overall_from_parts(model, parts)


def test_cache_drops_least_recently_used_parts_beyond_its_size() -> None:
    def part(n: int) -> WindowPart:
        scores = SortedScores(np.zeros(n), np.zeros(0), 0.0, 0.0)
        return WindowPart({"count": n}, {}, scores)

    cache = PartCache(max_bytes=part(1000).nbytes * 2 + 10)
    cache.put("a", 1, part(1000))
    cache.put("b", 1, part(1000))
    assert cache.get("a", 1) is not None  # a is now the most recently used
    cache.put("c", 1, part(1000))
    assert cache.get("b", 1) is None and cache.get("a", 1) is not None
    assert cache.get("a", 2) is None  # another fingerprint: the data changed


def test_overall_reuses_the_merge_of_settled_windows_and_stays_exact(
    ingest: IngestService, store: Store
) -> None:
    model, _ = load(ingest, "binary")
    cache = PartCache()

    def overall(use: PartCache | None) -> dict[str, Any]:
        parts = window_parts(store.cursor(), model, T0, END, "1d", cache=use)
        return overall_from_parts(model, parts, use)

    assert overall(cache) == pytest.approx(overall(None), rel=1e-12)
    merges: list[int] = []
    original = cache.memo

    def counting(key: Any, compute: Any) -> Any:
        return original(key, lambda: merges.append(1) or compute())

    cache.memo = counting  # type: ignore[method-assign]
    ingest.predictions("binary", _late_records(DAYS, 30, "new"))  # the newest window only
    assert overall(cache) == pytest.approx(overall(None), rel=1e-12)
    assert merges == []  # the settled windows' merge was reused
    old = (
        store.cursor()
        .execute(
            f'SELECT event_id FROM "{model.table}" '
            "WHERE ts >= ? AND ts < ? AND label_ts IS NOT NULL LIMIT 1",
            [T0 + timedelta(days=2), T0 + timedelta(days=3)],  # inside the range, not its edges
        )
        .fetchone()
    )
    assert old is not None
    ingest.labels("binary", [{"event_id": old[0], "label": 1}])  # a settled window changes
    assert overall(cache) == pytest.approx(overall(None), rel=1e-12)
    assert merges == [1]
