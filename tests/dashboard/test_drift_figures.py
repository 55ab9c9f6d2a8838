"""Drift and quality figure builders: traces carry values computed here by hand or by numpy."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from dashboard import drift_figures, quality_figures
from dashboard import format as fmt
from monitoring.drift import get_method

T0 = datetime(2026, 11, 20, tzinfo=UTC)
HOSTILE = "<script>alert(1)</script>"


def hour(i: int) -> datetime:
    return T0 + timedelta(hours=i)


def naive(moment: datetime) -> pd.Timestamp:
    return pd.Timestamp(moment).tz_convert("UTC").tz_localize(None)


def message(fig: go.Figure) -> str:
    return str(fig.layout.annotations[0].text)


def by_name(fig: go.Figure) -> dict[str | None, go.BaseTraceType]:
    return {trace.name: trace for trace in fig.data}


def results() -> pd.DataFrame:
    """KS (p-value, threshold 0.05) on `age`, Wasserstein (distance, 0.1) on `income`."""
    return pd.DataFrame(
        {
            "window_start": [hour(0), hour(1), hour(3), hour(0), hour(1), hour(3)],
            "role": ["feature"] * 6,
            "feature": ["age"] * 3 + ["income"] * 3,
            "kind": ["numeric"] * 6,
            "method": ["ks"] * 3 + ["wasserstein"] * 3,
            "score": [0.5, 0.0025, None, 0.05, 0.12, 0.4],
            "threshold": [0.05] * 3 + [0.1] * 3,
            "drifted": [False, True, False, False, True, True],
        }
    )


def test_severity_matches_hand_computation() -> None:
    assert get_method("ks").p_value and not get_method("wasserstein").p_value
    # p-values: log10(p) / log10(t); 0.0025 = 0.05 ** 2
    assert drift_figures.severity("ks", 0.0025, 0.05) == pytest.approx(2.0)
    assert drift_figures.severity("ks", 0.05, 0.05) == pytest.approx(1.0)
    assert drift_figures.severity("ks", 0.5, 0.05) == pytest.approx(
        math.log10(0.5) / math.log10(0.05)
    )
    assert drift_figures.severity("chisquare", 1.0, 0.05) == 0.0
    assert drift_figures.severity("ks", 0.0, 0.05) == drift_figures.SEVERITY_CAP
    assert drift_figures.severity("z", 1e-300, 0.05) == drift_figures.SEVERITY_CAP
    # distances: score / threshold
    assert drift_figures.severity("wasserstein", 0.05, 0.1) == pytest.approx(0.5)
    assert drift_figures.severity("psi", 0.2, 0.1) == pytest.approx(2.0)
    assert drift_figures.severity("jensenshannon", 5.0, 0.1) == drift_figures.SEVERITY_CAP
    # nothing to place on the scale
    assert drift_figures.severity("ks", None, 0.05) is None
    assert drift_figures.severity("ks", float("nan"), 0.05) is None
    assert drift_figures.severity("no_such_method", 0.5, 0.1) is None
    assert drift_figures.severity("ks", 0.01, 1.0) is None


def test_drift_heatmap_cells_order_and_marks() -> None:
    fig = drift_figures.drift_heatmap(results(), "1h")
    heat = fig.data[0]
    # income reaches severity 3 (0.4 / 0.1 capped), age 2: income is the worst, on top.
    assert list(heat.y) == ["income", "age"]
    assert fig.layout.yaxis.autorange == "reversed"
    # Columns: every hour from 00:00 to 03:00 (02:00 is a gap), given as cell edges.
    assert [pd.Timestamp(x) for x in heat.x] == [naive(hour(i)) for i in range(5)]
    expected = np.array(
        [
            [0.5, 1.2, np.nan, 3.0],
            [math.log10(0.5) / math.log10(0.05), 2.0, np.nan, np.nan],
        ]
    )
    np.testing.assert_allclose(np.asarray(heat.z, dtype=float), expected)
    assert heat.zmin == 0 and heat.zmax == drift_figures.SEVERITY_CAP
    marks = by_name(fig)["drifted"]
    drifted = results()[results()["drifted"]]
    want = {
        (naive(t) + timedelta(minutes=30), f)
        for t, f in zip(drifted["window_start"], drifted["feature"], strict=True)
    }
    got = {(pd.Timestamp(x), y) for x, y in zip(marks.x, marks.y, strict=True)}
    assert got == want
    # Hover carries the raw score, method and threshold, not just the severity.
    assert list(heat.customdata[1][1]) == [
        "2026-11-20 01:00 UTC",
        "ks",
        "0.0025",
        "0.05",
        "drifted",
    ]
    assert heat.customdata[0][2][1] == "no result"


def test_drift_heatmap_colour_scale_steps_at_the_drift_line() -> None:
    fig = drift_figures.drift_heatmap(results(), "1d")
    scale = [tuple(stop) for stop in fig.data[0].colorscale]
    at_one = [color for position, color in scale if position == pytest.approx(1 / 3)]
    assert len(at_one) == 2 and at_one[0] != at_one[1]  # a hard step, not a blend
    assert fig.layout.title.text == "Feature drift per day"


def windows_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "window_start": [T0 + timedelta(days=i) for i in range(3)],
            "drift_share": [0.1, 0.6, 0.2],
            "dataset_drift": [False, True, False],
            "n_drifted": [1, 6, 2],
            "n_tested": [10, 10, 10],
            "multivariate_auc": [0.51, 0.8, None],
            "multivariate_drifted": [False, True, None],
        }
    )


def test_drift_share_over_time() -> None:
    fig = drift_figures.drift_share_over_time(windows_frame(), 0.5, "1d")
    traces = by_name(fig)
    assert list(traces["no dataset drift"].y) == [0.1, 0.2]
    assert list(traces["dataset drift"].y) == [0.6]
    assert pd.Timestamp(traces["dataset drift"].x[0]) == naive(T0 + timedelta(days=1, hours=12))
    assert list(traces["dataset drift"].customdata[0]) == ["2026-11-21", " (6 of 10 features)"]
    assert [shape.y0 for shape in fig.layout.shapes] == [0.5]
    assert fig.layout.shapes[0].line.dash == "dash"


def test_multivariate_over_time() -> None:
    fig = drift_figures.multivariate_over_time(windows_frame(), 0.55, "1d")
    traces = by_name(fig)
    assert list(traces["no multivariate drift"].y) == [0.51]
    assert list(traces["multivariate drift"].y) == [0.8]
    assert sorted(shape.y0 for shape in fig.layout.shapes) == [0.5, 0.55]
    unscored = windows_frame().assign(multivariate_auc=None)
    assert message(drift_figures.multivariate_over_time(unscored, 0.55, "1d")).startswith("No")


def test_feature_score_over_time() -> None:
    fig = drift_figures.feature_score_over_time(results(), "income", "1h")
    traces = by_name(fig)
    assert list(traces["score"].y) == [0.05]
    assert list(traces["drifted"].y) == [0.12, 0.4]
    assert list(traces["threshold"].y) == [0.1, 0.1, 0.1]
    assert fig.layout.yaxis.type != "log"
    ks = drift_figures.feature_score_over_time(results(), "age", "1h")
    assert list(by_name(ks)["drifted"].y) == [0.0025]  # the window without a score is skipped
    assert ks.layout.yaxis.type == "log"
    assert message(drift_figures.feature_score_over_time(results(), "other", "1h")).startswith("No")


def test_numeric_distribution_shares_match_numpy() -> None:
    rng = np.random.default_rng(0)
    reference = pd.Series(np.append(rng.normal(0, 1, 5000), [np.nan, np.inf]))
    current = pd.Series(rng.normal(0.5, 1.2, 3000))
    fig = drift_figures.distribution_overlay(reference, current, "numeric", "age")
    combined = np.concatenate([reference[np.isfinite(reference)], current])
    # numpy's automatic choice wants more than 40 bins here: capped at 40.
    assert len(np.histogram_bin_edges(combined, bins="auto")) - 1 > 40
    edges = np.histogram_bin_edges(combined, bins=40)
    for trace, values in zip(fig.data, (reference, current), strict=True):
        finite = values[np.isfinite(values)].to_numpy()
        counts, _ = np.histogram(finite, bins=edges)
        assert len(trace.y) == 40
        np.testing.assert_allclose(trace.y, counts / finite.size)
        assert sum(trace.y) == pytest.approx(1.0)
        np.testing.assert_allclose(np.asarray(trace.x) - np.asarray(trace.width) / 2, edges[:-1])
    assert [trace.name for trace in fig.data] == ["reference", "current"]
    assert fig.layout.barmode == "overlay"


def test_numeric_distribution_few_values_uses_numpy_auto_bins() -> None:
    reference, current = pd.Series([1.0, 2.0, 2.0, 3.0]), pd.Series([3.0, 4.0, None])
    fig = drift_figures.distribution_overlay(reference, current, "numeric", "x")
    edges = np.histogram_bin_edges([1.0, 2.0, 2.0, 3.0, 3.0, 4.0], bins="auto")
    counts, _ = np.histogram([3.0, 4.0], bins=edges)
    np.testing.assert_allclose(fig.data[1].y, counts / 2)
    assert len(fig.data[0].y) == len(edges) - 1


def test_categorical_distribution_shares_match_value_counts() -> None:
    reference = pd.Series(["a", "b", "b", None, "c"], dtype=object)
    current = pd.Series(["b", "new", "new", "a"], dtype=object)
    fig = drift_figures.distribution_overlay(reference, current, "categorical", "colour")
    ref, cur = fig.data
    for trace, values in ((ref, reference), (cur, current)):
        expected = values.fillna(quality_figures.MISSING)
        shares = expected.value_counts(normalize=True)
        got = dict(zip(trace.x, trace.y, strict=True))
        assert {k: v for k, v in got.items() if v > 0} == pytest.approx(shares.to_dict())
    assert list(cur.x) == ["b", "new", "a", "(missing)", "c"]  # by combined share
    new = list(cur.x).index("new")
    assert cur.marker.color[new] == quality_figures.UNSEEN_COLOR
    assert "not in the reference" in cur.customdata[new][1]
    assert cur.customdata[0][1] == ""
    assert fig.layout.xaxis.type == "category"


def test_categorical_distribution_pools_the_tail_as_other() -> None:
    reference = pd.Series([f"c{i:02d}" for i in range(40) for _ in range(40 - i)], dtype=object)
    fig = drift_figures.distribution_overlay(reference, reference, "categorical", "x")
    shares = reference.value_counts(normalize=True)
    bars = fig.data[0]
    assert len(bars.x) == 31 and bars.x[-1] == "(other)"
    assert list(bars.x[:30]) == list(shares.index[:30])
    assert bars.y[-1] == pytest.approx(shares.iloc[30:].sum())
    assert sum(bars.y) == pytest.approx(1.0)


def test_top_features_bar_accepts_pairs_and_dicts() -> None:
    for top in (
        [("a", 0.1), ("b", 0.3)],
        [{"feature": "a", "importance": 0.1}, {"feature": "b", "importance": 0.3}],
    ):
        fig = drift_figures.top_features_bar(top)
        assert list(fig.data[0].y) == ["b", "a"]
        assert list(fig.data[0].x) == [0.3, 0.1]


def quality() -> pd.DataFrame:
    rows = []
    for i in range(10):  # feature f<i> misses i values of 100 in each of two hours
        for h in range(2):
            rows.append(
                {
                    "window_start": hour(h),
                    "feature": f"f{i}",
                    "kind": "numeric",
                    "rows": 100,
                    "missing": i + h,
                    "nan": 0,
                    "inf": 1 if i == 0 else 0,
                    "out_of_range": 3 * h,
                    "unseen": 0,
                    "constant": h == 1 and i < 2,
                }
            )
    rows.append(
        {**rows[0], "feature": "idle", "rows": 0, "missing": 0, "inf": 0, "out_of_range": 0}
    )
    return pd.DataFrame(rows)


def test_worst_features_rates_equal_groupby_sums() -> None:
    frame = quality()
    table = quality_figures.worst_features(frame)
    assert list(table.columns) == list(quality_figures.WORST_COLUMNS)
    sums = frame.groupby("feature")[["rows", "missing", "inf", "out_of_range", "unseen"]].sum()
    row = table.set_index("feature").loc["f7"]
    assert row["rows"] == 200
    assert row["missing_rate"] == pytest.approx(sums.loc["f7", "missing"] / 200)
    assert row["out_of_range_rate"] == pytest.approx(sums.loc["f7", "out_of_range"] / 200)
    assert row["unseen_rate"] == 0.0
    assert table.set_index("feature").loc["f0", "inf"] == 2
    assert table.set_index("feature").loc["f1", "constant_windows"] == 1
    worst = (
        sums[["missing", "inf", "out_of_range", "unseen"]].div(
            sums["rows"].where(sums["rows"] > 0), axis=0
        )
    ).max(axis=1)
    assert list(table["feature"][:10]) == sorted(worst.dropna().index, key=lambda f: (-worst[f], f))
    assert table["feature"].iloc[-1] == "idle" and math.isnan(table["worst"].iloc[-1])
    assert quality_figures.worst_features(pd.DataFrame()).empty


def test_quality_over_time_keeps_the_worst_features() -> None:
    fig = quality_figures.quality_over_time(quality(), "missing", "1h", top=3)
    assert [trace.name for trace in fig.data] == ["f9", "f8", "f7"]
    f9 = fig.data[0]
    assert list(f9.y) == [0.09, 0.10]
    assert [pd.Timestamp(x) for x in f9.x] == [
        naive(hour(0)) + timedelta(minutes=30),
        naive(hour(1)) + timedelta(minutes=30),
    ]
    # Only f0 has infinities: one line although top is 8.
    assert [
        trace.name for trace in quality_figures.quality_over_time(quality(), "inf", "1h").data
    ] == ["f0"]
    assert message(quality_figures.quality_over_time(quality(), "unseen", "1h")).startswith("No")
    with pytest.raises(ValueError, match="unknown quality check"):
        quality_figures.quality_over_time(quality(), "bogus", "1h")


def test_rejections_over_time_stacks_reasons() -> None:
    frame = pd.DataFrame(
        {
            "hour": [hour(0), hour(0), hour(1)],
            "reason": ["schema", "late", "schema"],
            "count": [3, 1, 4],
        }
    )
    fig = quality_figures.rejections_over_time(frame)
    traces = by_name(fig)
    assert list(traces["schema"].y) == [3, 4]
    assert list(traces["late"].y) == [1]
    assert fig.layout.barmode == "stack"


@pytest.mark.parametrize(
    "build",
    [
        lambda: drift_figures.drift_heatmap(pd.DataFrame(), "1h"),
        lambda: drift_figures.drift_share_over_time(pd.DataFrame(), 0.5, "1h"),
        lambda: drift_figures.multivariate_over_time(pd.DataFrame(), 0.55, "1h"),
        lambda: drift_figures.feature_score_over_time(pd.DataFrame(), "a", "1h"),
        lambda: drift_figures.distribution_overlay(
            pd.Series([], dtype=float), pd.Series([np.nan]), "numeric", "a"
        ),
        lambda: drift_figures.distribution_overlay(
            pd.Series([], dtype=object), pd.Series([], dtype=object), "categorical", "a"
        ),
        lambda: drift_figures.top_features_bar([]),
        lambda: quality_figures.quality_over_time(pd.DataFrame(), "missing", "1d"),
        lambda: quality_figures.rejections_over_time(pd.DataFrame()),
    ],
)
def test_empty_frames_give_an_annotated_figure(build) -> None:  # type: ignore[no-untyped-def]
    fig = build()
    assert not fig.data
    assert message(fig).startswith("No")


def assert_only_in_data(fig: go.Figure) -> None:
    """The hostile text shows escaped, in trace data only: never in layout or a template."""
    escaped = fmt.plotly_text(HOSTILE)
    everything = fig.to_json()
    assert HOSTILE not in everything
    assert escaped in json.dumps(fig.to_plotly_json()["data"], default=str)
    layout = json.dumps(fig.layout.to_plotly_json(), default=str)
    assert escaped not in layout and "script" not in layout
    for trace in fig.data:
        assert "script" not in str(getattr(trace, "hovertemplate", "") or "")
        assert "script" not in str(getattr(trace, "texttemplate", "") or "")


def test_hostile_names_stay_in_trace_data() -> None:
    frame = results().assign(feature=results()["feature"].replace("age", HOSTILE))
    assert_only_in_data(drift_figures.drift_heatmap(frame, "1h"))
    score = drift_figures.feature_score_over_time(frame, HOSTILE, "1h")
    assert "script" not in score.to_json()  # the feature only selects rows here
    assert_only_in_data(drift_figures.top_features_bar([(HOSTILE, 0.2)]))
    assert_only_in_data(
        drift_figures.distribution_overlay(pd.Series([1.0]), pd.Series([2.0]), "numeric", HOSTILE)
    )
    categories = pd.Series([HOSTILE, "b"], dtype=object)
    assert_only_in_data(
        drift_figures.distribution_overlay(categories, categories, "categorical", "x")
    )
    hostile_quality = quality().assign(feature=HOSTILE)
    assert_only_in_data(quality_figures.quality_over_time(hostile_quality, "missing", "1h"))
    rejected = pd.DataFrame({"hour": [hour(0)], "reason": [HOSTILE], "count": [2]})
    assert_only_in_data(quality_figures.rejections_over_time(rejected))
