"""Performance and latency figure builders on small frames: traces carry the frame's data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from dashboard import perf_figures

T0 = datetime(2026, 11, 20, tzinfo=UTC)


def rows(provisional: list[bool]) -> pd.DataFrame:
    n = len(provisional)
    return pd.DataFrame(
        {
            "window_start": [T0 + timedelta(hours=i) for i in range(n)],
            "count": [100] * n,
            "labeled": [50 if p else 90 for p in provisional],
            "label_coverage": [0.5 if p else 0.9 for p in provisional],
            "provisional": provisional,
            "accuracy": [0.9 - 0.01 * i for i in range(n)],
            "label_delay_p50_h": [1.0] * n,
            "label_delay_p90_h": [3.0] * n,
            "latency_p50_ms": [5.0] * n,
            "latency_p90_ms": [8.0] * n,
            "latency_p95_ms": [9.0] * n,
            "latency_p99_ms": [12.0] * n,
            "latency_max_ms": [30.0] * n,
            "throughput_per_min": [100 / 60] * n,
        }
    )


def names(fig: object) -> list[str | None]:
    return [t.name for t in fig.data]  # type: ignore[attr-defined]


def message(fig: object) -> str:
    return str(fig.layout.annotations[0].text)  # type: ignore[attr-defined]


def test_metric_over_time_marks_provisional_windows() -> None:
    fig = perf_figures.metric_over_time(rows([False, False, True, True]), "accuracy", 0.8, "1h")
    assert fig.layout.title.text == "Accuracy per hour"
    provisional = next(t for t in fig.data if t.name == "provisional: label coverage < 80%")
    assert list(provisional.y) == pytest.approx([0.88, 0.87])
    assert provisional.marker.symbol == "circle-open"
    final = next(t for t in fig.data if t.mode == "markers" and t is not provisional)
    assert list(final.y) == pytest.approx([0.9, 0.89])
    # One shaded band covering the last two windows.
    assert len(fig.layout.shapes) == 1
    band = fig.layout.shapes[0]
    assert pd.Timestamp(band.x1) - pd.Timestamp(band.x0) == timedelta(hours=2)


def test_metric_over_time_without_provisional_windows_has_no_band() -> None:
    fig = perf_figures.metric_over_time(rows([False, False]), "accuracy", 0.8, "1h", target=0.95)
    assert not any(str(n).startswith("provisional") for n in names(fig))
    lines = [s for s in fig.layout.shapes if s.type == "line"]
    assert [s.y0 for s in lines] == [0.95]  # the objective line, no vrect


def test_metric_over_time_empty_or_unlabelled() -> None:
    assert message(perf_figures.metric_over_time(pd.DataFrame(), "f1", 0.8)).startswith("No")
    frame = rows([True]).assign(accuracy=[None])
    assert "labelled" in message(perf_figures.metric_over_time(frame, "accuracy", 0.8))


def test_coverage_and_delay() -> None:
    fig = perf_figures.coverage_and_delay(rows([False, True]), 0.8, "1h")
    bars = next(t for t in fig.data if t.type == "bar")
    assert list(bars.y) == pytest.approx([90.0, 50.0])
    assert list(bars.marker.color) == [perf_figures.FINAL_COLOR, perf_figures.PROVISIONAL_COLOR]
    assert {"delay p50 (h)", "delay p90 (h)"} <= set(names(fig))


def test_confusion_heatmap_and_empty() -> None:
    counts = np.array([[5, 1], [2, 7]])
    fig = perf_figures.confusion_heatmap(["<b>a</b>", "b"], counts)
    assert np.array_equal(np.asarray(fig.data[0].z), counts)
    assert list(fig.data[0].x) == ["&lt;b&gt;a&lt;/b&gt;", "b"]  # class names escaped
    empty = perf_figures.confusion_heatmap([], np.zeros((0, 0)))
    assert message(empty) == perf_figures.NO_LABELS


def test_calibration_and_residuals() -> None:
    curve = pd.DataFrame(
        {"mean_score": [0.1, 0.9], "fraction_positive": [0.2, 0.8], "count": [3, 4]}
    )
    fig = perf_figures.calibration(curve)
    assert list(fig.data[1].x) == [0.1, 0.9]
    assert list(fig.data[1].y) == [0.2, 0.8]
    hist = perf_figures.residual_histogram(np.array([1.0, -1.0, np.nan, 2.0]))
    assert list(hist.data[0].x) == [1.0, -1.0, 2.0]
    assert message(perf_figures.residual_histogram(np.array([]))) == perf_figures.NO_LABELS


def test_latency_figures() -> None:
    frame = rows([False, False, False])
    fig = perf_figures.latency_over_time(frame, "1d")
    assert fig.layout.title.text == "Latency percentiles per day"
    assert names(fig) == ["p50", "p90", "p95", "p99", "max"]
    assert list(fig.data[2].y) == [9.0, 9.0, 9.0]
    bins = pd.DataFrame({"bin_lower": [0.0, 10.0], "bin_upper": [10.0, 20.0], "count": [3, 5]})
    hist = perf_figures.latency_histogram(bins)
    assert list(hist.data[0].x) == [5.0, 15.0]
    assert list(hist.data[0].y) == [3, 5]
    rate = perf_figures.throughput(frame, "1h")
    assert list(rate.data[0].y) == pytest.approx([100 / 60] * 3)
    for empty in (
        perf_figures.latency_over_time(pd.DataFrame()),
        perf_figures.latency_histogram(pd.DataFrame()),
        perf_figures.throughput(pd.DataFrame()),
    ):
        assert message(empty).startswith("No")


@pytest.mark.parametrize(
    ("metric", "label"),
    [("roc_auc", "ROC AUC"), ("f1_macro", "F1 macro"), ("mae", "MAE"), ("log_loss", "Log loss")],
)
def test_metric_label(metric: str, label: str) -> None:
    assert perf_figures.metric_label(metric) == label


def test_class_recall_bars_skip_unlabelled_classes_and_escape_names() -> None:
    fig = perf_figures.class_recall({"<i>cat</i>": 0.5, "dog": 0.75, "never": None})
    assert list(fig.data[0].x) == ["&lt;i&gt;cat&lt;/i&gt;", "dog"]
    assert list(fig.data[0].y) == [0.5, 0.75]
    assert message(perf_figures.class_recall({"x": None})) == perf_figures.NO_LABELS


def test_rows_frame_spreads_recall_by_class_into_columns() -> None:
    from dashboard.perf_data import rows_frame

    frame = rows_frame(
        [
            {"window_start": "2026-11-01T00:00:00+00:00", "recall_by_class": {"b": 0.5, "a": 1}},
            {"window_start": "2026-11-02T00:00:00+00:00", "recall_by_class": {"a": None}},
        ]
    )
    assert list(frame.columns) == ["window_start", "recall a", "recall b"]
    assert frame["recall b"].tolist()[0] == 0.5 and pd.isna(frame["recall b"].tolist()[1])
