"""Attribution drift figures for the Explanations page: each feature's share of mean |SHAP|
per window, rank changes against the reference and NDCG over time. Pure builders, like
dashboard.shap_figures; user text is escaped and stays in trace data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard import figures
from dashboard import format as fmt
from dashboard.drift_figures import flagged_points
from dashboard.perf_figures import WINDOW_WORDS, lacks, style
from dashboard.quality_figures import middles, naive_utc, window_label
from dashboard.shap_figures import DRIFT_COLOR, NO_EXPLANATIONS, finite, other_label

ROSE_COLOR = "#2ca02c"
FELL_COLOR = "#d62728"
SAME_COLOR = "#7f7f7f"
SERIES_COLUMNS = ("window_start", "feature", "mean_abs")
CHANGE_COLUMNS = ("feature", "reference_rank", "current_rank")


def share_frame(series: pd.DataFrame) -> pd.DataFrame:
    """importance_series with `share` (mean_abs over the window's total) where it lacks one."""
    frame = series.assign(
        feature=series["feature"].astype(str),
        mean_abs=pd.to_numeric(series["mean_abs"], errors="coerce").fillna(0.0),
        window_start=pd.to_datetime(series["window_start"], utc=True),
    )
    if "share" not in frame.columns or frame["share"].isna().all():
        totals = frame.groupby("window_start")["mean_abs"].transform("sum")
        frame["share"] = (frame["mean_abs"] / totals.where(totals > 0)).fillna(0.0)
    return frame


def attribution_shares(series: pd.DataFrame, window: str, top: int = 8) -> go.Figure:
    """Each top feature's share of the total mean |SHAP| per window, stacked to 100 %.

    The `top` features with the largest mean share over the windows get an area each; the rest
    are pooled into "other N features", so every window sums to 1.
    """
    title = f"Share of attribution per {WINDOW_WORDS.get(window, window)}"
    if lacks(series, SERIES_COLUMNS):
        return figures.empty_figure(title, NO_EXPLANATIONS)
    frame = share_frame(series)
    wide = frame.pivot_table(
        index="window_start", columns="feature", values="share", aggfunc="sum", fill_value=0.0
    ).sort_index()
    wide = wide[wide.sum(axis=1) > 0]
    if wide.empty:
        return figures.empty_figure(title, NO_EXPLANATIONS)
    mean = wide.mean(axis=0)
    ranked = sorted(mean.index, key=lambda f: (-mean[f], f))
    shown, rest = ranked[: max(top, 1)], ranked[max(top, 1) :]
    starts = naive_utc(pd.Series(wide.index))
    times = middles(starts, window)
    labels = [window_label(s, window) for s in starts]
    columns: list[tuple[str, pd.Series]] = [(fmt.plotly_text(f), wide[f]) for f in shown]
    if rest:
        columns.append((other_label(len(rest)), wide[rest].sum(axis=1)))
    fig = go.Figure()
    for i, (name, values) in enumerate(columns):
        fig.add_scatter(
            x=times,
            y=values.to_numpy(dtype=float),
            mode="lines",
            name=name,
            stackgroup="shares",
            line={"width": 0.5, "color": figures.PALETTE[i % len(figures.PALETTE)]},
            customdata=[[label, name] for label in labels],
            hovertemplate="%{customdata[0]}: %{customdata[1]} %{y:.1%}<extra></extra>",
        )
    style(fig, title, "Share of mean |SHAP|")
    fig.update_yaxes(range=[0, 1], tickformat=".0%")
    return fig


def rank_changes_figure(changes: pd.DataFrame) -> go.Figure:
    """A slope chart: each feature's importance rank in the reference and now (1 on top)."""
    title = "Importance rank: reference vs current"
    if lacks(changes, CHANGE_COLUMNS):
        return figures.empty_figure(title, "No importance to compare with the reference")
    fig = go.Figure()
    sides = ["reference", "current"]
    for row in changes.itertuples(index=False):
        before, now = finite(row.reference_rank), finite(row.current_rank)
        if before is None and now is None:
            continue
        moved = 0 if before is None or now is None else int(np.sign(now - before))
        color = {-1: ROSE_COLOR, 1: FELL_COLOR}.get(moved, SAME_COLOR)
        kept = [(s, r) for s, r in zip(sides, (before, now), strict=True) if r is not None]
        name = fmt.plotly_text(row.feature)
        fig.add_scatter(
            x=[s for s, _ in kept],
            y=[r for _, r in kept],
            mode="lines+markers+text",
            name=name,
            text=[name if s == "current" else "" for s, _ in kept],
            textposition="middle right",
            line={"color": color, "width": 2},
            marker={"color": color, "size": 8},
            customdata=[[name, s] for s, _ in kept],
            hovertemplate="%{customdata[0]}: rank %{y} in the %{customdata[1]}<extra></extra>",
            showlegend=False,
        )
    if not fig.data:
        return figures.empty_figure(title, "No importance to compare with the reference")
    style(fig, title, "Rank (1 = most important)", "")
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=sides, range=[-0.3, 1.8])
    fig.update_yaxes(autorange="reversed", dtick=1)
    return fig


def ndcg_over_time(ndcg: pd.DataFrame, threshold: float, window: str) -> go.Figure:
    """NDCG of each window's importance ranking against the reference; below the line = drift."""
    title = f"Attribution drift (NDCG vs the reference) per {WINDOW_WORDS.get(window, window)}"
    if (
        lacks(ndcg, ("window_start", "ndcg"))
        or pd.to_numeric(ndcg["ndcg"], errors="coerce").isna().all()
    ):
        return figures.empty_figure(title, "No attribution drift computed in this range")
    frame = ndcg.assign(_start=naive_utc(ndcg["window_start"]).to_numpy()).sort_values("_start")
    starts = frame["_start"].reset_index(drop=True)
    values = pd.to_numeric(frame["ndcg"], errors="coerce").reset_index(drop=True)
    times = middles(starts, window)
    drifted = (values < threshold).to_numpy()
    fig = go.Figure()
    flagged_points(
        fig,
        times,
        values,
        drifted,
        [[window_label(s, window)] for s in starts],
        "%{customdata[0]}: NDCG %{y:.3f}<extra></extra>",
        ("same order", "attribution drift"),
    )
    fig.add_hline(
        y=threshold,
        line={"color": DRIFT_COLOR, "dash": "dash"},
        annotation_text=f"drift below {threshold:g}",
        annotation_position="bottom left",
    )
    style(fig, title, "NDCG (1 = same order)")
    low = float(np.nanmin(values.to_numpy(dtype=float)))
    fig.update_yaxes(range=[max(0.0, min(threshold - 0.1, low - 0.05)), 1.02])
    return fig
