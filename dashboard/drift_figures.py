"""Plotly builders for the Drift page: stored drift frames in, figures out, no I/O.

Like dashboard.perf_figures: an empty or incomplete frame gives a figure saying so, times are
drawn in naive UTC at the middle of their window, and user text (feature names, categories,
method names read back from storage) is escaped with fmt.plotly_text and only ever reaches
trace data (names, categories, customdata), never a layout title or a hovertemplate.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard import figures
from dashboard import format as fmt
from dashboard.perf_figures import WINDOW_WORDS
from dashboard.quality_figures import CURRENT_COLOR, lacks, middles, naive_utc, style, window_label
from dashboard.quality_figures import distribution_overlay as distribution_overlay
from monitoring.drift import get_method
from monitoring.drift.severity import SEVERITY_CAP, SEVERITY_SCALE, severity
from monitoring.windows import WINDOWS, window_grid

NO_DRIFT = "No drift computed in this range"
DRIFT_COLOR = "#d62728"
RESULT_COLUMNS = ("window_start", "feature", "method", "score", "threshold", "drifted")


def _word(window: str) -> str:
    return WINDOW_WORDS.get(window, window)


def _number(value: object) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _score_text(value: object) -> str:
    number = _number(value)
    return "not tested" if number is None else f"{number:.4g}"


def _heatmap_hover(
    cells: pd.DataFrame, starts: pd.DatetimeIndex, drifted: np.ndarray, window: str
) -> np.ndarray:
    """Per cell: window, method, raw score, threshold and decision (feature x window x 5)."""
    tested = cells["method"].notna().to_numpy()
    methods = [
        fmt.plotly_text(m) if t else "no result"
        for m, t in zip(cells["method"], tested, strict=True)
    ]
    scores = [_score_text(v) if t else "-" for v, t in zip(cells["score"], tested, strict=True)]
    limits = [_score_text(v) if t else "-" for v, t in zip(cells["threshold"], tested, strict=True)]
    flags = drifted.reshape(-1)
    decisions = [
        ("drifted" if f else "not drifted") if t else "" for f, t in zip(flags, tested, strict=True)
    ]
    windows = [window_label(s, window) for s in starts] * (len(tested) // max(len(starts), 1))
    custom = np.empty((len(tested), 5), dtype=object)
    for column, values in enumerate((windows, methods, scores, limits, decisions)):
        custom[:, column] = values
    return custom.reshape((*drifted.shape, 5))


def drift_heatmap(results: pd.DataFrame, window: str) -> go.Figure:
    """Features (worst first) by window; colour is severity, drifted cells carry an x."""
    title = f"Feature drift per {_word(window)}"
    if lacks(results, RESULT_COLUMNS):
        return figures.empty_figure(title, NO_DRIFT)
    frame = pd.DataFrame(
        {
            "start": naive_utc(results["window_start"]),
            "feature": results["feature"].astype(str).to_numpy(),
            "method": results["method"].astype(str).to_numpy(),
            "score": results["score"].to_numpy(),
            "threshold": results["threshold"].to_numpy(),
            "drifted": results["drifted"].fillna(False).astype(bool).to_numpy(),
        }
    ).drop_duplicates(["feature", "start"], keep="last")
    frame["severity"] = [
        severity(m, s, t)
        for m, s, t in zip(frame["method"], frame["score"], frame["threshold"], strict=True)
    ]
    frame["severity"] = frame["severity"].astype(float)
    worst = frame.groupby("feature")["severity"].max().fillna(-1.0)
    features = sorted(worst.index, key=lambda name: (-worst[name], name))
    starts = window_grid(frame["start"], window)
    edges = [*starts, starts[-1] + WINDOWS[window]]
    cells = frame.set_index(["feature", "start"])
    index = pd.MultiIndex.from_product([features, starts], names=["feature", "start"])
    cells = cells.reindex(index)
    shape = (len(features), len(starts))
    z = cells["severity"].to_numpy(dtype=float).reshape(shape)
    drifted = cells["drifted"].fillna(False).astype(bool).to_numpy().reshape(shape)
    labels = [fmt.plotly_text(name) for name in features]
    custom = _heatmap_hover(cells, starts, drifted, window)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=edges,
            y=labels,
            zmin=0,
            zmax=SEVERITY_CAP,
            colorscale=SEVERITY_SCALE,
            xgap=1,
            ygap=1,
            customdata=custom,
            colorbar={
                "title": {"text": "Severity"},
                "tickvals": [0, 1, 2, SEVERITY_CAP],
                "ticktext": ["0", "1 = drift", "2", f"≥ {SEVERITY_CAP:g}"],
            },
            hovertemplate=(
                "%{y}<br>%{customdata[0]}<br>%{customdata[1]}: score %{customdata[2]}, "
                "threshold %{customdata[3]}<br>severity %{z:.2f} %{customdata[4]}"
                "<extra></extra>"
            ),
        )
    )
    rows, cols = np.nonzero(drifted)
    if len(rows):
        middles = [edges[j] + (edges[j + 1] - edges[j]) / 2 for j in cols]
        fig.add_scatter(
            x=middles,
            y=[labels[i] for i in rows],
            mode="markers",
            name="drifted",
            marker={"symbol": "x-thin", "size": 9, "line": {"width": 2, "color": "#222"}},
            hoverinfo="skip",
        )
    style(fig, title, "")
    fig.update_layout(height=max(figures.HEIGHT, 170 + 24 * len(features)))
    fig.update_xaxes(type="date")
    fig.update_yaxes(type="category", autorange="reversed")
    return fig


def flagged_points(
    fig: go.Figure,
    times: pd.Series,
    values: pd.Series,
    flags: np.ndarray,
    custom: list[list[str]],
    hover: str,
    names: tuple[str, str],
) -> None:
    """A line through every window, blue markers for calm ones and red for drifted ones."""
    fig.add_scatter(
        x=times,
        y=values,
        mode="lines",
        showlegend=False,
        line={"color": CURRENT_COLOR},
        hoverinfo="skip",
        connectgaps=False,
    )
    for flag, name, color in ((False, names[0], CURRENT_COLOR), (True, names[1], DRIFT_COLOR)):
        mask = (flags == flag) & values.notna().to_numpy()
        if not mask.any():
            continue
        fig.add_scatter(
            x=times[mask],
            y=values[mask],
            mode="markers",
            name=name,
            marker={"color": color, "size": 9 if flag else 7},
            customdata=[c for c, m in zip(custom, mask, strict=True) if m],
            hovertemplate=hover,
        )


def drift_share_over_time(windows: pd.DataFrame, share: float, window: str) -> go.Figure:
    """The share of drifted features per window, with the dataset-drift share dashed."""
    title = f"Share of drifted features per {_word(window)}"
    if lacks(windows, ("window_start", "drift_share")) or windows["drift_share"].isna().all():
        return figures.empty_figure(title, NO_DRIFT)
    starts = naive_utc(windows["window_start"])
    values = windows["drift_share"].astype(float).reset_index(drop=True)
    if "dataset_drift" in windows.columns:
        flags = windows["dataset_drift"].fillna(False).astype(bool).to_numpy()
    else:
        flags = (values >= share).to_numpy()
    counts = ["" for _ in range(len(values))]
    if "n_drifted" in windows.columns and "n_tested" in windows.columns:
        counts = [
            f" ({fmt.count(d)} of {fmt.count(t)} features)"
            for d, t in zip(windows["n_drifted"], windows["n_tested"], strict=True)
        ]
    custom = [[window_label(s, window), c] for s, c in zip(starts, counts, strict=True)]
    fig = go.Figure()
    flagged_points(
        fig,
        middles(starts, window),
        values,
        flags,
        custom,
        "%{customdata[0]}: %{y:.0%} drifted%{customdata[1]}<extra></extra>",
        ("no dataset drift", "dataset drift"),
    )
    fig.add_hline(
        y=share,
        line={"color": DRIFT_COLOR, "dash": "dash"},
        annotation_text=f"dataset drift at {share:.0%}",
        annotation_position="top left",
    )
    style(fig, title, "Drifted features")
    fig.update_yaxes(range=[0, 1.05], tickformat=".0%")
    return fig


def multivariate_over_time(windows: pd.DataFrame, threshold: float, window: str) -> go.Figure:
    """The domain classifier's ROC AUC per window; 0.5 means it cannot tell them apart."""
    title = f"Multivariate drift (domain classifier AUC) per {_word(window)}"
    if (
        lacks(windows, ("window_start", "multivariate_auc"))
        or windows["multivariate_auc"].isna().all()
    ):
        return figures.empty_figure(title, "No multivariate drift computed in this range")
    starts = naive_utc(windows["window_start"])
    values = windows["multivariate_auc"].astype(float).reset_index(drop=True)
    if "multivariate_drifted" in windows.columns:
        flags = windows["multivariate_drifted"].fillna(False).astype(bool).to_numpy()
    else:
        flags = (values > threshold).to_numpy()
    custom = [[window_label(s, window)] for s in starts]
    fig = go.Figure()
    flagged_points(
        fig,
        middles(starts, window),
        values,
        flags,
        custom,
        "%{customdata[0]}: AUC %{y:.3f}<extra></extra>",
        ("no multivariate drift", "multivariate drift"),
    )
    fig.add_hline(
        y=threshold,
        line={"color": DRIFT_COLOR, "dash": "dash"},
        annotation_text=f"drift above {threshold:g}",
        annotation_position="top left",
    )
    fig.add_hline(
        y=0.5,
        line={"color": "#999", "dash": "dot"},
        annotation_text="0.5 = no drift",
        annotation_position="bottom left",
    )
    style(fig, title, "ROC AUC")
    low = float(np.nanmin(values.to_numpy()))
    fig.update_yaxes(range=[max(0.0, min(0.45, low - 0.05)), 1.02])
    return fig


def feature_score_over_time(results: pd.DataFrame, feature: str, window: str) -> go.Figure:
    """One feature's drift score per window, its threshold dashed, drifted windows in red."""
    title = f"Drift score per {_word(window)}"
    empty = "No drift results for this feature in this range"
    if lacks(results, RESULT_COLUMNS):
        return figures.empty_figure(title, empty)
    part = results[results["feature"].astype(str) == feature]
    part = part[part["score"].notna()]
    if part.empty:
        return figures.empty_figure(title, empty)
    part = part.assign(_start=naive_utc(part["window_start"]).to_numpy()).sort_values("_start")
    starts = part["_start"].reset_index(drop=True)
    times = middles(starts, window)
    scores = part["score"].astype(float).reset_index(drop=True)
    thresholds = part["threshold"].astype(float).reset_index(drop=True)
    flags = part["drifted"].fillna(False).astype(bool).to_numpy()
    custom = [
        [window_label(s, window), fmt.plotly_text(m), f"{t:.4g}"]
        for s, m, t in zip(starts, part["method"].astype(str), thresholds, strict=True)
    ]
    fig = go.Figure()
    fig.add_scatter(
        x=times,
        y=thresholds,
        mode="lines",
        name="threshold",
        line={"color": DRIFT_COLOR, "dash": "dash", "shape": "hv"},
        hoverinfo="skip",
    )
    flagged_points(
        fig,
        times,
        scores,
        flags,
        custom,
        "%{customdata[0]}<br>%{customdata[1]} %{y:.4g} (threshold %{customdata[2]})<extra></extra>",
        ("score", "drifted"),
    )
    y_title = "Score"
    try:
        method = get_method(str(part["method"].iloc[-1]))
    except ValueError:
        method = None
    if method is not None and method.p_value:
        y_title = "p-value (lower is drift)"
        if (scores > 0).all() and (thresholds > 0).all():
            fig.update_yaxes(type="log")  # p-values of drift span many decades
    elif method is not None:
        y_title = "Distance (higher is drift)"
    return style(fig, title, y_title)


def top_features_bar(
    top: Sequence[tuple[str, float]] | Sequence[Mapping[str, object]],
) -> go.Figure:
    """The features that best tell current rows from reference rows, most important on top."""
    title = "Features behind multivariate drift"
    pairs: list[tuple[str, float]] = []
    for item in top:
        if isinstance(item, Mapping):
            feature, importance = item.get("feature"), item.get("importance")
        else:
            feature, importance = item[0], item[1]
        number = _number(importance)
        if feature is not None and number is not None:
            pairs.append((str(feature), number))
    if not pairs:
        return figures.empty_figure(title, "No multivariate drift result")
    pairs.sort(key=lambda pair: -pair[1])
    fig = go.Figure(
        go.Bar(
            x=[importance for _, importance in pairs],
            y=[fmt.plotly_text(feature) for feature, _ in pairs],
            orientation="h",
            marker_color=CURRENT_COLOR,
            hovertemplate="%{y}: %{x:.3f}<extra></extra>",
        )
    )
    style(fig, title, "", "Importance")
    fig.update_yaxes(type="category", autorange="reversed")
    return fig
