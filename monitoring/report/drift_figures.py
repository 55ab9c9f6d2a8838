"""The report's drift charts: the feature x window heatmap and the drifted share per window.

Copies of dashboard.drift_figures' look (monitoring may not import dashboard). Feature and
method names are escaped and reach only trace data, never a title or a hovertemplate.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from monitoring.drift.severity import SEVERITY_CAP, SEVERITY_SCALE, severity
from monitoring.report import text
from monitoring.report.chart_style import (
    DRIFT_COLOR,
    FINAL_COLOR,
    HEIGHT,
    empty_figure,
    naive_utc,
    style,
)
from monitoring.report.data import COLUMNS, has
from monitoring.windows import WINDOWS, window_grid

NO_DRIFT = "No drift computed in this range"
WINDOW_WORDS = {"1h": "hour", "1d": "day", "1w": "week"}
# A printed page holds about this many heatmap rows; the CSV has every feature.
MAX_HEATMAP_FEATURES = 30


def _window_label(start: pd.Timestamp, window: str) -> str:
    if window == "1h":
        return f"{start:%Y-%m-%d %H:%M} UTC"
    if window == "1w":
        return f"week of {start:%Y-%m-%d}"
    return f"{start:%Y-%m-%d}"


def _cells(results: pd.DataFrame) -> pd.DataFrame:
    """One row per (feature, window): the last result, with its severity."""
    frame = pd.DataFrame(
        {
            "start": naive_utc(results["window_start"]),
            "feature": results["feature"].astype(str).to_numpy(),
            "method": results["method"].astype(str).to_numpy(),
            "score": pd.to_numeric(results["score"], errors="coerce").to_numpy(),
            "threshold": pd.to_numeric(results["threshold"], errors="coerce").to_numpy(),
            "drifted": results["drifted"].fillna(False).astype(bool).to_numpy(),
        }
    ).drop_duplicates(["feature", "start"], keep="last")
    frame["severity"] = [
        severity(m, s, t)
        for m, s, t in zip(frame["method"], frame["score"], frame["threshold"], strict=True)
    ]
    frame["severity"] = frame["severity"].astype(float)
    return frame


def drift_heatmap(results: pd.DataFrame, window: str) -> go.Figure:
    """Features (worst first) by window; colour is severity, drifted cells carry an x."""
    title = f"Feature drift per {WINDOW_WORDS.get(window, window)}"
    if not has(results, *COLUMNS["drift_features"]):
        return empty_figure(title, NO_DRIFT)
    frame = _cells(results)
    worst = frame.groupby("feature")["severity"].max().fillna(-1.0)
    drifts = frame.groupby("feature")["drifted"].sum()
    # Worst first: most drifted windows, then highest severity, then by name.
    features = sorted(worst.index, key=lambda f: (-drifts[f], -worst[f], f))
    features = features[:MAX_HEATMAP_FEATURES]
    starts = window_grid(frame["start"], window)
    edges = [*starts, starts[-1] + WINDOWS[window]]
    index = pd.MultiIndex.from_product([features, starts], names=["feature", "start"])
    cells = frame.set_index(["feature", "start"]).reindex(index)
    shape = (len(features), len(starts))
    z = cells["severity"].to_numpy(dtype=float).reshape(shape)
    drifted = cells["drifted"].fillna(False).astype(bool).to_numpy().reshape(shape)
    labels = [text.plotly_text(name) for name in features]
    custom = np.empty((len(cells), 4), dtype=object)
    tested = cells["method"].notna().to_numpy()
    custom[:, 0] = [_window_label(start, window) for _, start in index]
    custom[:, 1] = [
        text.plotly_text(m) if t else "no result"
        for m, t in zip(cells["method"], tested, strict=True)
    ]
    custom[:, 2] = [
        text.plain(s) if t else "-" for s, t in zip(cells["score"], tested, strict=True)
    ]
    custom[:, 3] = [
        text.plain(v) if t else "-" for v, t in zip(cells["threshold"], tested, strict=True)
    ]
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
            customdata=custom.reshape((*shape, 4)),
            colorbar={
                "title": {"text": "Severity"},
                "tickvals": [0, 1, 2, SEVERITY_CAP],
                "ticktext": ["0", "1 = drift", "2", f"≥ {SEVERITY_CAP:g}"],
            },
            hovertemplate=(
                "%{y}<br>%{customdata[0]}<br>%{customdata[1]}: score %{customdata[2]}, "
                "threshold %{customdata[3]}<br>severity %{z:.2f}<extra></extra>"
            ),
        )
    )
    rows, cols = np.nonzero(drifted)
    if len(rows):
        fig.add_scatter(
            x=[edges[j] + (edges[j + 1] - edges[j]) / 2 for j in cols],
            y=[labels[i] for i in rows],
            mode="markers",
            name="drifted",
            marker={"symbol": "x-thin", "size": 9, "line": {"width": 2, "color": "#222"}},
            hoverinfo="skip",
        )
    style(fig, title, "")
    fig.update_layout(height=max(HEIGHT, 170 + 24 * len(features)))
    fig.update_xaxes(type="date")
    fig.update_yaxes(type="category", autorange="reversed")
    return fig


def drift_share(windows: pd.DataFrame, window: str) -> go.Figure:
    """The share of drifted features per window; windows with dataset drift in red."""
    title = f"Share of drifted features per {WINDOW_WORDS.get(window, window)}"
    if not has(windows, "window_start", "drift_share") or windows["drift_share"].isna().all():
        return empty_figure(title, NO_DRIFT)
    frame = windows.assign(_start=naive_utc(windows["window_start"]).to_numpy())
    frame = frame.sort_values("_start").reset_index(drop=True)
    times = frame["_start"] + WINDOWS[window] / 2
    values = pd.to_numeric(frame["drift_share"], errors="coerce").astype(float)
    if "dataset_drift" in frame.columns:
        flags = frame["dataset_drift"].fillna(False).astype(bool).to_numpy()
    else:
        flags = np.zeros(len(frame), dtype=bool)
    counts = [""] * len(frame)
    if "n_drifted" in frame.columns and "n_tested" in frame.columns:
        counts = [
            f" ({text.count(d)} of {text.count(t)} features)"
            for d, t in zip(frame["n_drifted"], frame["n_tested"], strict=True)
        ]
    custom = [[_window_label(s, window), c] for s, c in zip(frame["_start"], counts, strict=True)]
    fig = go.Figure()
    fig.add_scatter(
        x=times,
        y=values,
        mode="lines",
        showlegend=False,
        line={"color": FINAL_COLOR},
        hoverinfo="skip",
        connectgaps=False,
    )
    for flag, name, color in (
        (False, "no dataset drift", FINAL_COLOR),
        (True, "dataset drift", DRIFT_COLOR),
    ):
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
            hovertemplate="%{customdata[0]}: %{y:.0%} drifted%{customdata[1]}<extra></extra>",
        )
    style(fig, title, "Drifted features")
    fig.update_yaxes(range=[0, 1.05], tickformat=".0%")
    return fig
