"""SHAP figure builders: traces carry values computed here by hand or with numpy."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from plotly.colors import sample_colorscale

from dashboard import attribution_figures, shap_figures
from dashboard import format as fmt

T0 = datetime(2026, 11, 20, tzinfo=UTC)
HOSTILE = "<script>alert(1)</script>"


def message(fig: go.Figure) -> str:
    return str(fig.layout.annotations[0].text)


def by_name(fig: go.Figure) -> dict[str | None, go.BaseTraceType]:
    return {trace.name: trace for trace in fig.data}


def explanation(attributions: dict[str, float], base: float = -1.25) -> dict[str, object]:
    return {
        "event_id": "e1",
        "base_value": base,
        "output": base + sum(attributions.values()),
        "units": "log-odds",
        "explained_class": "1",
        "attributions": attributions,
    }


def test_waterfall_bars_run_from_base_to_output() -> None:
    attributions = {"age": 0.4, "income": -0.9, "region": 0.15, "plan": -0.05}
    found = explanation(attributions)
    fig = shap_figures.waterfall(found, {"age": 42, "income": 51234.4, "region": "north"})
    bars = fig.data[0]
    assert bars.type == "waterfall" and bars.orientation == "h"
    assert bars.base == -1.25
    assert all(m == "relative" for m in bars.measure)
    # Bottom to top: smallest |attribution| first, the largest on top.
    assert list(bars.y) == ["plan", "region = north", "age = 42", "income = 51,234"]
    assert list(bars.x) == [-0.05, 0.15, 0.4, -0.9]
    assert bars.base + sum(bars.x) == pytest.approx(found["output"])
    # Dashed lines mark the base value and the output.
    assert [shape.x0 for shape in fig.layout.shapes] == pytest.approx([-1.25, found["output"]])
    assert len(fig.data) == 1
    assert fig.layout.xaxis.title.text == "Model output (log-odds)"


def test_waterfall_pools_the_rest_as_other() -> None:
    rng = np.random.default_rng(3)
    attributions = {f"f{i:02d}": float(v) for i, v in enumerate(rng.normal(0, 1, 20))}
    found = explanation(attributions, base=0.3)
    fig = shap_figures.waterfall(found, {}, top=5)
    bars = fig.data[0]
    ranked = sorted(attributions, key=lambda f: -abs(attributions[f]))
    assert list(bars.y) == ["other 15 features", *reversed(ranked[:5])]
    rest = sum(attributions[f] for f in ranked[5:])
    assert bars.x[0] == pytest.approx(rest)
    assert list(bars.x[1:]) == pytest.approx([attributions[f] for f in reversed(ranked[:5])])
    assert 0.3 + sum(bars.x) == pytest.approx(found["output"])
    assert 0.3 + sum(attributions.values()) == pytest.approx(found["output"])


def test_waterfall_missing_values_and_empty() -> None:
    fig = shap_figures.waterfall(explanation({"x": 0.2, "y": 0.1}), {"x": None, "y": float("nan")})
    assert list(fig.data[0].y) == ["y = (missing)", "x = (missing)"]
    assert message(shap_figures.waterfall(None, {})).startswith("No")
    assert message(shap_figures.waterfall(explanation({}), {})).startswith("No")


def importance_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {"feature": ["b", "a", "c", "d"], "mean_abs": [0.2, 0.5, 0.05, 0.25], "n": [10] * 4}
    )


def test_importance_bar_orders_by_mean_abs() -> None:
    fig = shap_figures.importance_bar(importance_frame(), "probability")
    bars = fig.data[0]
    assert list(bars.y) == ["a", "d", "b", "c"]
    assert list(bars.x) == [0.5, 0.25, 0.2, 0.05]
    assert list(bars.customdata) == pytest.approx([0.5, 0.25, 0.2, 0.05])  # total is 1.0
    assert fig.layout.yaxis.autorange == "reversed"  # largest on top
    assert "probability" in fig.layout.xaxis.title.text


def test_importance_bar_top_plus_other_keeps_the_total() -> None:
    fig = shap_figures.importance_bar(importance_frame(), "log-odds", top=2)
    bars = fig.data[0]
    assert list(bars.y) == ["a", "d", "other 2 features"]
    assert bars.x[-1] == pytest.approx(0.25)
    assert sum(bars.x) == pytest.approx(importance_frame()["mean_abs"].sum())
    assert sum(bars.customdata) == pytest.approx(1.0)


def beeswarm_rows(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    income = rng.normal(50_000, 10_000, n)
    region = rng.choice(["north", "south"], n)
    rows = []
    for i in range(n):
        rows.append(
            {
                "event_id": f"e{i}",
                "feature": "income",
                "attribution": -income[i] / 1e5,
                "value_num": income[i],
                "value_text": f"{income[i]:.0f}",
            }
        )
        rows.append(
            {
                "event_id": f"e{i}",
                "feature": "region",
                "attribution": 0.1 if region[i] == "north" else -0.1,
                "value_num": np.nan,
                "value_text": region[i],
            }
        )
    return pd.DataFrame(rows)


def test_beeswarm_one_row_per_feature_in_importance_order() -> None:
    rows = beeswarm_rows()
    fig = shap_figures.beeswarm(rows, ["region", "income"], "log-odds")
    traces = by_name(fig)
    assert list(traces["features"].y) == ["region", "income"]  # category i names row i
    for position, feature in enumerate(["region", "income"]):
        points = traces[feature]
        expected = rows.loc[rows["feature"] == feature, "attribution"].to_numpy()
        np.testing.assert_allclose(points.x, expected)
        offsets = np.asarray(points.y) - position
        assert np.all(np.abs(offsets) <= shap_figures.SWARM_HALF_WIDTH + 1e-12)
        assert points.yaxis == "y2"
    assert list(fig.layout.yaxis.range) == [1.5, -0.5]  # the first feature on top
    assert list(fig.layout.yaxis2.range) == [1.5, -0.5]
    assert fig.layout.yaxis2.overlaying == "y"


def test_beeswarm_colours_scale_each_numeric_feature() -> None:
    rows = beeswarm_rows()
    fig = shap_figures.beeswarm(rows, ["income", "region"], "log-odds")
    traces = by_name(fig)
    assert set(traces["region"].marker.color) == {shap_figures.NO_VALUE_COLOR}
    income = rows.loc[rows["feature"] == "income", "value_num"].to_numpy()
    low, high = np.percentile(income, [5, 95])
    scaled = np.clip((income - low) / (high - low), 0, 1)
    assert list(traces["income"].marker.color) == sample_colorscale(
        shap_figures.FEATURE_SCALE, scaled.tolist()
    )
    assert by_name(fig)["feature value"].marker.showscale


def test_beeswarm_stacks_equal_values() -> None:
    offsets = shap_figures.swarm_offsets(np.array([1.0, 1.0, 1.0, 1.0, 1.0, 5.0]))
    # Layers 0, +1, -1, +2, -2 scaled so the fullest bin fills ±0.4; the lone 5.0 stays on 0.
    assert list(offsets) == pytest.approx([0.0, 0.2, -0.2, 0.4, -0.4, 0.0])
    assert shap_figures.swarm_offsets(np.array([])).size == 0


def test_scaled_values_constant_and_missing() -> None:
    out = shap_figures.scaled_values(np.array([2.0, 2.0, np.nan]))
    assert list(out[:2]) == [0.5, 0.5] and np.isnan(out[2])
    assert np.isnan(shap_figures.scaled_values(np.array([np.nan]))).all()


def series_frame() -> pd.DataFrame:
    rows = []
    means = {"a": [0.6, 0.2], "b": [0.3, 0.5], "c": [0.1, 0.2], "d": [0.0, 0.1]}
    for feature, values in means.items():
        for day, value in enumerate(values):
            rows.append(
                {
                    "window_start": T0 + timedelta(days=day),
                    "feature": feature,
                    "mean_abs": value,
                    "n": 10,
                }
            )
    return pd.DataFrame(rows)


def test_attribution_shares_stack_to_one() -> None:
    frame = series_frame()
    fig = attribution_figures.attribution_shares(frame, "1d", top=2)
    totals = frame.groupby("window_start")["mean_abs"].sum()
    shares = frame.assign(share=frame["mean_abs"] / frame["window_start"].map(totals))
    mean = shares.groupby("feature")["share"].mean().sort_values(ascending=False)
    assert [t.name for t in fig.data] == [*mean.index[:2], "other 2 features"]
    stacked = np.sum([np.asarray(t.y) for t in fig.data], axis=0)
    np.testing.assert_allclose(stacked, [1.0, 1.0])
    first = shares[shares["feature"] == mean.index[0]]["share"].to_numpy()
    np.testing.assert_allclose(fig.data[0].y, first)
    assert all(t.stackgroup == "shares" for t in fig.data)
    assert pd.Timestamp(fig.data[0].x[0]) == pd.Timestamp("2026-11-20 12:00")


def test_attribution_shares_uses_a_given_share() -> None:
    frame = series_frame().assign(share=0.25)
    fig = attribution_figures.attribution_shares(frame, "1d", top=8)
    assert all(list(t.y) == [0.25, 0.25] for t in fig.data)


def changes_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "feature": ["a", "b", "c", "d"],
            "reference_rank": [1, 2, 3, np.nan],
            "current_rank": [2, 1, 3, 4],
            "change": [-1, 1, 0, np.nan],
            "reference_share": [0.5, 0.3, 0.2, np.nan],
            "current_share": [0.3, 0.5, 0.15, 0.05],
        }
    )


def test_rank_changes_figure_draws_reference_to_current() -> None:
    fig = attribution_figures.rank_changes_figure(changes_frame())
    traces = by_name(fig)
    assert list(traces["a"].x) == ["reference", "current"]
    assert list(traces["a"].y) == [1, 2]
    assert traces["a"].line.color == attribution_figures.FELL_COLOR
    assert traces["b"].line.color == attribution_figures.ROSE_COLOR
    assert traces["c"].line.color == attribution_figures.SAME_COLOR
    assert list(traces["d"].x) == ["current"] and list(traces["d"].y) == [4]
    assert fig.layout.yaxis.autorange == "reversed"


def test_ndcg_over_time_flags_windows_below_the_threshold() -> None:
    frame = pd.DataFrame(
        {
            "window_start": [T0 + timedelta(hours=i) for i in range(4)],
            "ndcg": [1.0, 0.95, 0.8, None],
        }
    )
    fig = attribution_figures.ndcg_over_time(frame, 0.9, "1h")
    traces = by_name(fig)
    assert list(traces["same order"].y) == [1.0, 0.95]
    assert list(traces["attribution drift"].y) == [0.8]
    assert pd.Timestamp(traces["attribution drift"].x[0]) == pd.Timestamp("2026-11-20 02:30")
    assert [shape.y0 for shape in fig.layout.shapes] == [0.9]
    assert fig.layout.shapes[0].line.dash == "dash"
    assert fig.layout.yaxis.range[0] <= 0.75 and fig.layout.yaxis.range[1] > 1.0


@pytest.mark.parametrize(
    "build",
    [
        lambda: shap_figures.importance_bar(pd.DataFrame(), "raw"),
        lambda: shap_figures.beeswarm(pd.DataFrame(), [], "raw"),
        lambda: attribution_figures.attribution_shares(pd.DataFrame(), "1h"),
        lambda: attribution_figures.attribution_shares(series_frame().assign(mean_abs=0.0), "1d"),
        lambda: attribution_figures.rank_changes_figure(pd.DataFrame()),
        lambda: attribution_figures.ndcg_over_time(pd.DataFrame(), 0.9, "1h"),
        lambda: attribution_figures.ndcg_over_time(
            pd.DataFrame({"window_start": [T0], "ndcg": [None]}), 0.9, "1h"
        ),
        lambda: shap_figures.waterfall(None, {}),
    ],
)
def test_empty_inputs_give_an_annotated_figure(build) -> None:  # type: ignore[no-untyped-def]
    fig = build()
    assert not fig.data
    assert message(fig).startswith("No")


def assert_escaped(fig: go.Figure) -> None:
    """The hostile text shows escaped, in trace data only: never in layout or a template."""
    escaped = fmt.plotly_text(HOSTILE)
    assert HOSTILE not in fig.to_json()
    assert escaped in json.dumps(fig.to_plotly_json()["data"], default=str)
    layout = json.dumps(fig.layout.to_plotly_json(), default=str)
    assert "script" not in layout
    for trace in fig.data:
        assert "script" not in str(getattr(trace, "hovertemplate", "") or "")


def test_hostile_text_is_escaped_and_kept_in_trace_data() -> None:
    found = explanation({HOSTILE: 0.5, "x": -0.1})
    found["explained_class"] = HOSTILE
    assert_escaped(shap_figures.waterfall(found, {"x": HOSTILE}))
    assert_escaped(shap_figures.waterfall(found, {}, top=1))  # in the "other" bar's hover
    hostile = importance_frame().assign(feature=[HOSTILE, "a", "c", "d"])
    assert_escaped(shap_figures.importance_bar(hostile, "raw"))
    rows = beeswarm_rows().replace({"region": HOSTILE, "north": HOSTILE})
    assert_escaped(shap_figures.beeswarm(rows, [HOSTILE], "raw"))
    series = series_frame().replace({"a": HOSTILE})
    assert_escaped(attribution_figures.attribution_shares(series, "1d"))
    assert_escaped(attribution_figures.rank_changes_figure(changes_frame().replace({"a": HOSTILE})))


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (42, "42"),
        (42.0, "42"),
        (1234567.0, "1,234,567"),
        (51234.56, "51,235"),
        (0.123456, "0.1235"),
        (np.float64(-2.5), "-2.5"),
        (None, "(missing)"),
        (float("nan"), "(missing)"),
        ("north", "north"),
        (True, "True"),
    ],
)
def test_value_text(value: object, text: str) -> None:
    assert shap_figures.value_text(value) == text
