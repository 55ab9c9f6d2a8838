"""The Performance page's view and version comparison, against direct computations."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import timedelta

import numpy as np
import pytest
from sklearn import metrics as sk

from collectors.ingest import IngestService
from collectors.performance import metric_rows, overall_metrics
from collectors.performance_view import compare, performance_view
from collectors.window_parts import PartCache
from monitoring.compare import compare_versions
from monitoring.metrics import calibration_curve
from storage import Store
from storage.performance import labelled_rows
from tests.storage.test_performance import DAYS, FAR_FUTURE, T0, load

END = T0 + timedelta(days=DAYS)


@pytest.fixture(autouse=True)
def quiet_sklearn() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_view_equals_the_separate_computations(
    ingest: IngestService, store: Store, task: str
) -> None:
    model, frame = load(ingest, task)
    con = store.cursor()
    view = performance_view(con, model, T0, END, "1d", cache=PartCache(), now=FAR_FUTURE)
    assert view.rows == metric_rows(con, model, T0, END, "1d", now=FAR_FUTURE)["rows"]
    whole = overall_metrics(con, model, T0, END)
    got = dict(view.overall)
    if task == "multiclass":  # a nested {class: recall}: compared on its own
        assert got.pop("recall_by_class") == pytest.approx(whole["recall_by_class"], rel=1e-12)
    assert got == pytest.approx({k: whole[k] for k in got}, rel=1e-12)
    rows = frame.dropna(subset=["label"])
    if task == "regression":
        assert view.classes == [] and view.calibration is None
        return
    want = sk.confusion_matrix(rows["label"], rows["prediction"], labels=view.classes)
    assert view.classes == sorted(set(rows["label"]) | set(rows["prediction"]))
    assert np.array_equal(view.confusion, want)
    if task == "binary":
        assert view.calibration is not None
        curve = calibration_curve(rows["label"] == "1", rows["score"].to_numpy())
        assert view.calibration["count"].tolist() == curve["count"].tolist()
        assert view.calibration["mean_score"].to_numpy() == pytest.approx(
            curve["mean_score"].to_numpy(), abs=1e-12
        )


def test_view_refuses_an_unknown_window(ingest: IngestService, store: Store) -> None:
    model, _ = load(ingest, "binary")
    with pytest.raises(ValueError, match="unknown window '2d': use 1h, 1d or 1w"):
        performance_view(store.cursor(), model, T0, END, "2d")


@pytest.mark.parametrize("task", ["binary", "regression"])
def test_compare_on_few_rows_is_the_plain_bootstrap(
    ingest: IngestService, store: Store, task: str
) -> None:
    model, _ = load(ingest, task)
    con = store.cursor()
    got = compare(con, model, T0, END, "1", "2", cache=PartCache())
    columns = ("prediction", "label", "score") if task == "binary" else ("prediction", "label")
    a, b = (labelled_rows(con, model, T0, END, "1w", v, None, columns) for v in ("1", "2"))
    want = compare_versions(task, a, b, positive_class=model.positive_class)
    for g, w in zip(got, want, strict=True):
        assert (g.metric, g.significant, g.method) == (w.metric, w.significant, w.method)
        assert (g.a, g.b, g.diff) == pytest.approx((w.a, w.b, w.diff), rel=1e-9)
        assert (g.ci_low, g.ci_high) == pytest.approx((w.ci_low, w.ci_high), rel=1e-9)


def test_compare_samples_many_rows_and_says_so(ingest: IngestService, store: Store) -> None:
    model, frame = load(ingest, "binary")
    got = {c.metric: c for c in compare(store.cursor(), model, T0, END, "1", "2", max_rows=300)}
    rows = frame.dropna(subset=["label"])
    v1 = rows[rows["version"] == "1"]
    assert got["accuracy"].a == pytest.approx(sk.accuracy_score(v1["label"], v1["prediction"]))
    assert "m-out-of-n: 300-row subsamples, rescaled" in got["accuracy"].method


def test_view_ranks_worst_segments_like_worst_segments(ingest: IngestService, store: Store) -> None:
    from collectors.performance import worst_segments

    model, _ = load(ingest, "binary")
    con, cache = store.cursor(), PartCache()
    view = performance_view(con, model, T0, END, "1d", cache=cache, worst_metric="recall")
    assert view.worst is not None and not view.worst.empty
    want = worst_segments(con, model, T0, END, "recall", window="1d")
    assert view.worst.to_dict("records") == want.to_dict("records")
    segmented = performance_view(
        con, model, T0, END, "1d", segment=("region", "north"), worst_metric="recall"
    )
    assert segmented.worst is None  # a segment's own segments are not ranked
