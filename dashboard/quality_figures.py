"""Data quality and distribution figures for the Drift page: frames in, no I/O.

Also the helpers the drift charts share (style, UTC times, window labels); the distribution
overlay lives here and dashboard.drift_figures re-exports it. Quality rates are pooled over
windows (sum of counts / sum of rows), so a busy window weighs more than a quiet one. User
text (feature names, categories, rejection reasons) is escaped with fmt.plotly_text and only
reaches trace data, never a layout title or a hovertemplate.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard import figures
from dashboard import format as fmt
from dashboard.perf_figures import WINDOW_WORDS, lacks, style
from monitoring.windows import WINDOWS

QUALITY_CHECKS = {
    "missing": "Missing",
    "nan": "NaN",
    "inf": "Infinite",
    "out_of_range": "Out of range",
    "unseen": "Unseen category",
}
QUALITY_INPUT = ("window_start", "feature", "rows", *QUALITY_CHECKS)
WORST_COLUMNS = (
    "feature",
    "kind",
    "rows",
    "missing_rate",
    "nan",
    "inf",
    "out_of_range_rate",
    "unseen_rate",
    "constant_windows",
    "worst",
)


MAX_BINS = 40
MAX_CATEGORIES = 30
OTHER = "(other)"
MISSING = "(missing)"
REFERENCE_COLOR = "#7f7f7f"
CURRENT_COLOR = "#1f77b4"
UNSEEN_COLOR = "#ff7f0e"
HOUR = pd.Timedelta(hours=1)


def naive_utc(values: pd.Series) -> pd.Series:
    """Timestamps as naive UTC, index reset (Plotly would shift tz-aware times)."""
    return pd.to_datetime(values, utc=True).dt.tz_localize(None).reset_index(drop=True)


def window_label(start: pd.Timestamp, window: str) -> str:
    """A window for hovers: its start to the minute for hours, the date for days and weeks."""
    if window == "1h":
        return f"{start:%Y-%m-%d %H:%M} UTC"
    if window == "1w":
        return f"week of {start:%Y-%m-%d}"
    return f"{start:%Y-%m-%d}"


def middles(starts: pd.Series, window: str) -> pd.Series:
    """Where a window's value is drawn: the middle of the window."""
    return starts + WINDOWS[window] / 2


def _bin_edges(values: np.ndarray) -> np.ndarray:
    """numpy's 'auto' bins on the values, at most MAX_BINS of them."""
    edges = np.histogram_bin_edges(values, bins="auto")
    if len(edges) - 1 > MAX_BINS:
        edges = np.histogram_bin_edges(values, bins=MAX_BINS)
    return edges


def _finite(values: pd.Series) -> np.ndarray:
    """The finite numbers of a series (nulls, NaN, infinities and non-numbers dropped)."""
    numbers = np.asarray(pd.to_numeric(values, errors="coerce"), dtype=float)
    finite: np.ndarray = numbers[np.isfinite(numbers)]
    return finite


def _numeric_overlay(reference: pd.Series, current: pd.Series, name: str) -> go.Figure | None:
    sides = {"reference": _finite(reference), "current": _finite(current)}
    combined = np.concatenate(list(sides.values()))
    if combined.size == 0:
        return None
    edges = _bin_edges(combined)
    left, right = edges[:-1], edges[1:]
    fig = go.Figure()
    for side, values in sides.items():
        if values.size == 0:
            continue
        counts, _ = np.histogram(values, bins=edges)
        custom = np.empty((len(counts), 4), dtype=object)
        custom[:, 0], custom[:, 1], custom[:, 2], custom[:, 3] = left, right, counts, name
        fig.add_bar(
            x=(left + right) / 2,
            y=counts / values.size,
            width=(right - left),
            name=side,
            marker_color=REFERENCE_COLOR if side == "reference" else CURRENT_COLOR,
            opacity=0.55,
            customdata=custom,
            hovertemplate=(
                "%{customdata[3]}: %{customdata[0]:.4g} to %{customdata[1]:.4g}<br>"
                f"{side}: " + "%{y:.1%} (%{customdata[2]:,} values)<extra></extra>"
            ),
        )
    fig.update_layout(barmode="overlay", bargap=0)
    return fig


def _category_shares(values: pd.Series) -> pd.Series:
    labels = values.astype(object).where(values.notna(), MISSING).map(str)
    return labels.value_counts(normalize=True)


def _categorical_overlay(reference: pd.Series, current: pd.Series, name: str) -> go.Figure | None:
    ref, cur = _category_shares(reference), _category_shares(current)
    total = ref.add(cur, fill_value=0.0)
    if total.empty:
        return None
    ranked = sorted(total.index, key=lambda c: (-total[c], c))
    top, rest = ranked[:MAX_CATEGORIES], ranked[MAX_CATEGORIES:]
    categories = top + ([OTHER] if rest else [])

    def shares(side: pd.Series) -> list[float]:
        return [float(side.get(c, 0.0)) for c in top] + (
            [float(side.reindex(rest).fillna(0.0).sum())] if rest else []
        )

    new = set(cur.index) - set(ref.index) if not ref.empty else set()
    notes = [" (not in the reference)" if c in new else "" for c in top]
    if rest:
        notes.append(" (includes categories not in the reference)" if new & set(rest) else "")
    labels = [fmt.plotly_text(c) for c in categories]
    fig = go.Figure()
    for side, side_shares in (("reference", ref), ("current", cur)):
        if side_shares.empty:
            continue
        is_current = side == "current"
        colors = [
            UNSEEN_COLOR
            if is_current and note
            else (CURRENT_COLOR if is_current else REFERENCE_COLOR)
            for note in notes
        ]
        fig.add_bar(
            x=labels,
            y=shares(side_shares),
            name=side,
            marker_color=colors,
            customdata=[[name, note if is_current else ""] for note in notes],
            hovertemplate=(
                f"%{{customdata[0]}} = %{{x}}<br>{side}: "
                "%{y:.1%}%{customdata[1]}<extra></extra>"
            ),
        )
    fig.update_layout(barmode="group")
    fig.update_xaxes(type="category")
    return fig


def distribution_overlay(
    reference: pd.Series, current: pd.Series, kind: str, feature: str
) -> go.Figure:
    """Reference against current as shares: shared histogram bins, or grouped category bars.

    Numeric shares are of each side's finite values; categorical shares count nulls as
    "(missing)", keep the MAX_CATEGORIES largest categories and pool the rest as "(other)".
    """
    if kind not in ("numeric", "categorical"):
        raise ValueError(f"unknown feature kind {kind!r}: use numeric or categorical")
    title = "Distribution: reference vs current"
    name = fmt.plotly_text(feature)
    if kind == "numeric":
        fig = _numeric_overlay(reference, current, name)
        x_title = "Value"
    else:
        fig = _categorical_overlay(reference, current, name)
        x_title = "Category"
    if fig is None:
        return figures.empty_figure(title, "No values of this feature in either range")
    style(fig, title, "Share of rows", x_title)
    fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    return fig


def _rate(count: pd.Series, rows: pd.Series) -> pd.Series:
    """count / rows, NaN where there were no rows (no rate, not a rate of 0)."""
    return count.astype(float) / rows.astype(float).where(rows > 0)


def worst_features(quality: pd.DataFrame) -> pd.DataFrame:
    """Per feature over every window: rows, rates and counts, worst first.

    `worst` is the largest of the missing, NaN, infinite, out-of-range and unseen rates;
    features with no rows (no rate at all) come last.
    """
    if lacks(quality, QUALITY_INPUT):
        return pd.DataFrame({column: [] for column in WORST_COLUMNS})
    frame = quality.assign(feature=quality["feature"].astype(str))
    if "constant" not in frame.columns:
        frame = frame.assign(constant=False)
    if "kind" not in frame.columns:
        frame = frame.assign(kind="")
    frame = frame.assign(constant=frame["constant"].fillna(False).astype(bool))
    sums = frame.groupby("feature", sort=True).agg(
        kind=("kind", "first"),
        rows=("rows", "sum"),
        missing=("missing", "sum"),
        nan=("nan", "sum"),
        inf=("inf", "sum"),
        out_of_range=("out_of_range", "sum"),
        unseen=("unseen", "sum"),
        constant_windows=("constant", "sum"),
    )
    rows = sums["rows"]
    table = pd.DataFrame(
        {
            "feature": sums.index,
            "kind": sums["kind"].to_numpy(),
            "rows": rows.astype("int64").to_numpy(),
            "missing_rate": _rate(sums["missing"], rows).to_numpy(),
            "nan": sums["nan"].astype("int64").to_numpy(),
            "inf": sums["inf"].astype("int64").to_numpy(),
            "out_of_range_rate": _rate(sums["out_of_range"], rows).to_numpy(),
            "unseen_rate": _rate(sums["unseen"], rows).to_numpy(),
            "constant_windows": sums["constant_windows"].astype("int64").to_numpy(),
        }
    )
    rates = np.column_stack(
        [
            table["missing_rate"],
            _rate(sums["nan"], rows).to_numpy(),
            _rate(sums["inf"], rows).to_numpy(),
            table["out_of_range_rate"],
            table["unseen_rate"],
        ]
    )
    table["worst"] = pd.DataFrame(rates).max(axis=1, skipna=True).to_numpy()
    table = table.sort_values(["worst", "feature"], ascending=[False, True], na_position="last")
    return table.reset_index(drop=True)[list(WORST_COLUMNS)]


def quality_over_time(quality: pd.DataFrame, check: str, window: str, top: int = 8) -> go.Figure:
    """The rate of one check per window, one line for each of the `top` worst features."""
    if check not in QUALITY_CHECKS:
        raise ValueError(f"unknown quality check {check!r}: use one of {', '.join(QUALITY_CHECKS)}")
    label = QUALITY_CHECKS[check]
    title = f"{label} rate per {WINDOW_WORDS.get(window, window)}"
    if lacks(quality, ("window_start", "feature", "rows", check)):
        return figures.empty_figure(title)
    frame = quality.assign(feature=quality["feature"].astype(str))
    totals = frame.groupby("feature")[[check, "rows"]].sum()
    overall = _rate(totals[check], totals["rows"]).fillna(0.0)
    overall = overall[overall > 0]
    if overall.empty:
        return figures.empty_figure(title, f"No {label.lower()} values in this range")
    worst = sorted(overall.index, key=lambda name: (-overall[name], name))[: max(top, 0)]
    fig = go.Figure()
    for feature in worst:
        part = frame[frame["feature"] == feature].assign(
            _start=lambda f: naive_utc(f["window_start"]).to_numpy()
        )
        part = part.sort_values("_start")
        starts = part["_start"]
        fig.add_scatter(
            x=starts + WINDOWS[window] / 2,
            y=_rate(part[check], part["rows"]),
            mode="lines+markers",
            name=fmt.plotly_text(feature),
            connectgaps=False,
            customdata=[
                [window_label(s, window), fmt.count(c), fmt.count(r)]
                for s, c, r in zip(starts, part[check], part["rows"], strict=True)
            ],
            hovertemplate="%{customdata[0]}: %{y:.2%} (%{customdata[1]} of %{customdata[2]} rows)",
        )
    style(fig, title, f"{label} (share of rows)")
    fig.update_yaxes(tickformat=".1%", rangemode="tozero")
    return fig


def rejections_over_time(rejections: pd.DataFrame) -> go.Figure:
    """Predictions refused at ingestion per hour, stacked by reason."""
    title = "Rejected predictions per hour"
    if lacks(rejections, ("hour", "reason", "count")) or not (rejections["count"] > 0).any():
        return figures.empty_figure(title, "No rejected predictions in this range")
    frame = rejections.assign(
        reason=rejections["reason"].astype(str), _hour=naive_utc(rejections["hour"]).to_numpy()
    )
    fig = go.Figure()
    for reason, part in frame.groupby("reason", sort=True):
        fig.add_bar(
            x=part["_hour"] + HOUR / 2,  # bars are centred: shift each onto its hour
            y=part["count"].astype("int64"),
            width=HOUR.total_seconds() * 1000 * 0.9,
            name=fmt.plotly_text(reason),
            hovertemplate="%{y:,} rejected",
        )
    fig.update_layout(barmode="stack", hovermode="x unified")
    style(fig, title, "Rejected predictions")
    fig.update_yaxes(rangemode="tozero")
    return fig
