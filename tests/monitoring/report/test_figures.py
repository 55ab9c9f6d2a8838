"""The report's figures: dashboard look, provisional markers, escaped user text, empty data."""

from __future__ import annotations

import json

import plotly.graph_objects as go
import plotly.io as pio

from monitoring.report import report_figures
from monitoring.report.chart_style import PROVISIONAL_COLOR, TEMPLATE, is_empty
from tests.monitoring.report.sample import HOSTILE, empty_data, sample_data

NAMES = ["performance", "latency", "drift_heatmap", "drift_share", "importance"]
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def _layout_text(fig: go.Figure) -> str:
    return json.dumps(fig.layout.to_plotly_json(), default=str)


def test_every_figure_is_built_with_the_dashboard_template() -> None:
    figures = report_figures(sample_data())
    assert list(figures) == NAMES
    for name, fig in figures.items():
        assert not is_empty(fig), name
        assert fig.layout.template == pio.templates[TEMPLATE], name


def test_provisional_windows_have_hollow_markers_and_bands() -> None:
    fig = report_figures(sample_data())["performance"]
    hollow = [t for t in fig.data if t.type == "scatter" and t.marker.symbol == "circle-open"]
    assert hollow and all(t.marker.color == PROVISIONAL_COLOR for t in hollow)
    assert len(hollow[0].x) == 2  # the last two windows
    assert any(shape.type == "rect" for shape in fig.layout.shapes)
    annotations = [a.text for a in fig.layout.annotations]
    assert "objective 0.9" in annotations and "Accuracy" in annotations


def test_user_text_is_escaped_and_only_in_trace_data() -> None:
    figures = report_figures(sample_data())
    heatmap = figures["drift_heatmap"]
    assert ESCAPED in list(heatmap.data[0].y)
    assert HOSTILE not in list(heatmap.data[0].y)
    drifted = heatmap.data[1]
    assert drifted.name == "drifted" and set(drifted.y) == {ESCAPED}
    assert ESCAPED in list(figures["importance"].data[0].y)
    for name, fig in figures.items():
        assert "script" not in _layout_text(fig), name
        for trace in fig.data:
            assert "script" not in str(trace.hovertemplate or ""), name
            assert HOSTILE not in json.dumps(trace.to_plotly_json(), default=str), name


def test_heatmap_puts_the_drifted_feature_first() -> None:
    heatmap = report_figures(sample_data())["drift_heatmap"]
    assert heatmap.data[0].y[0] == ESCAPED
    assert heatmap.data[0].z.shape == (4, 7)


def test_empty_data_gives_empty_figures() -> None:
    figures = report_figures(empty_data())
    assert list(figures) == NAMES
    assert all(is_empty(fig) for fig in figures.values())


def test_regression_draws_mae() -> None:
    perf = sample_data().performance.drop(columns=["accuracy", "f1", "roc_auc", "precision"])
    perf = perf.assign(mae=[1.0, 1.2, 1.1, 0.9, 1.0, 1.3, 1.4], rmse=2.0)
    fig = report_figures(sample_data(task="regression", performance=perf))["performance"]
    titles = [a.text for a in fig.layout.annotations]
    assert "MAE" in titles and "RMSE" in titles
