"""Plotly builders for the Explanations page: SHAP attributions in, figures out, no I/O.

shap's own plots are matplotlib only, so these redraw them (waterfall, mean |SHAP| bar,
beeswarm) plus attribution drift over time. Like dashboard.drift_figures: an empty frame gives
a figure saying so, times are drawn in naive UTC at the middle of their window, and user text
(feature names, feature values, class names) is escaped with fmt.plotly_text and only ever
reaches trace data (names, text, customdata), never a layout title or a hovertemplate.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from dashboard import figures
from dashboard import format as fmt
from dashboard.perf_figures import lacks, style

NO_EXPLANATIONS = "No explained predictions in this range"
# shap's own colours: red pushes the output up, blue pulls it down.
UP_COLOR = "#ff0051"
DOWN_COLOR = "#008bfb"
FEATURE_SCALE = [[0.0, DOWN_COLOR], [1.0, UP_COLOR]]
NO_VALUE_COLOR = "#9e9e9e"  # categoricals and missing values have no place on the scale
DRIFT_COLOR = "#d62728"
MISSING = "(missing)"
IMPORTANCE_COLUMNS = ("feature", "mean_abs")
BEESWARM_COLUMNS = ("feature", "attribution", "value_num", "value_text")
SWARM_BINS = 100
SWARM_HALF_WIDTH = 0.4  # a feature's points stay within ±0.4 of its row


def units_label(units: str) -> str:
    """How the page names the units of attributions: log-odds, probability, model output."""
    return {"log-odds": "log-odds", "probability": "probability", "raw": "model output"}.get(
        units, "model output"
    )


def value_text(value: object) -> str:
    """A feature value for a label: 42, 51,235, 0.1235; missing as (missing)."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float | np.integer | np.floating):
        number = float(value)
        if math.isnan(number):
            return MISSING
        if math.isinf(number) or abs(number) >= 1e15:
            return f"{number:.4g}"
        if number.is_integer():
            return f"{int(number):,}"
        # Thousands as 51,235 rather than 5.123e+04; small numbers to 4 significant digits.
        return f"{number:,.0f}" if abs(number) >= 1000 else f"{number:.4g}"
    return str(value)


def finite(value: object) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def other_label(count: int) -> str:
    return f"other {count} feature" + ("" if count == 1 else "s")


def waterfall(
    explanation: Mapping[str, Any] | None, features: Mapping[str, Any], top: int = 12
) -> go.Figure:
    """One prediction: bars from the base value to the output, largest |attribution| on top.

    The `top` largest contributions get a bar each ("feature = value"); the rest are summed
    into one "other N features" bar at the bottom, as shap's waterfall does.
    """
    title = "Contributions to this prediction"
    attributions = {} if explanation is None else dict(explanation.get("attributions") or {})
    pairs = [(str(f), v) for f, v in attributions.items() if finite(v) is not None]
    base = None if explanation is None else finite(explanation.get("base_value"))
    if not pairs or base is None:
        return figures.empty_figure(title, "No attributions for this prediction")
    units = str(explanation.get("units", "raw")) if explanation is not None else "raw"
    pairs.sort(key=lambda pair: (-abs(float(pair[1])), pair[0]))
    shown, rest = pairs[: max(top, 1)], pairs[max(top, 1) :]
    total = sum(float(v) for _, v in pairs)
    output = finite(explanation.get("output")) if explanation is not None else None
    end = base + total if output is None else output
    # Bottom to top: the pooled rest, then the smallest shown contribution up to the largest.
    labels, deltas, notes = [], [], []
    if rest:
        labels.append(other_label(len(rest)))
        deltas.append(sum(float(v) for _, v in rest))
        notes.append(
            ", ".join(fmt.plotly_text(f) for f, _ in rest[:8]) + (", …" if len(rest) > 8 else "")
        )
    for feature, value in reversed(shown):
        label = (
            feature if feature not in features else f"{feature} = {value_text(features[feature])}"
        )
        labels.append(fmt.plotly_text(label))
        deltas.append(float(value))
        notes.append("")
    fig = go.Figure(
        go.Waterfall(
            orientation="h",
            measure=["relative"] * len(deltas),
            base=base,
            x=deltas,
            y=labels,
            name="contribution",
            increasing={"marker": {"color": UP_COLOR}},
            decreasing={"marker": {"color": DOWN_COLOR}},
            connector={"line": {"color": "#bbb", "width": 1, "dash": "dot"}},
            text=[f"{d:+.3g}" for d in deltas],
            textposition="outside",
            customdata=notes,
            hovertemplate="%{y}: %{x:+.4g}<br>%{customdata}<extra></extra>",
        )
    )
    fig.add_vline(
        x=base,
        line={"color": "#999", "dash": "dash"},
        annotation_text=f"E[f(x)] = {base:.3g}",
        annotation_position="bottom right",
    )
    fig.add_vline(
        x=end,
        line={"color": "#222", "dash": "dot"},
        annotation_text=f"f(x) = {end:.3g}",
        annotation_position="top right",
    )
    style(fig, title, "", f"Model output ({units_label(units)})")
    fig.update_layout(height=max(figures.HEIGHT, 160 + 28 * len(labels)), showlegend=False)
    fig.update_yaxes(type="category")
    return fig


def _ranked_importance(importance: pd.DataFrame) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "feature": importance["feature"].astype(str).to_numpy(),
            "mean_abs": pd.to_numeric(importance["mean_abs"], errors="coerce").to_numpy(),
        }
    ).dropna()
    return frame.sort_values(["mean_abs", "feature"], ascending=[False, True], ignore_index=True)


def importance_bar(importance: pd.DataFrame, units: str, top: int = 20) -> go.Figure:
    """Mean |SHAP value| per feature, largest on top; beyond `top`, one summed bar."""
    title = "Mean |SHAP value| per feature"
    if lacks(importance, IMPORTANCE_COLUMNS):
        return figures.empty_figure(title, NO_EXPLANATIONS)
    frame = _ranked_importance(importance)
    if frame.empty:
        return figures.empty_figure(title, NO_EXPLANATIONS)
    total = float(frame["mean_abs"].sum())
    shown, rest = frame.iloc[: max(top, 1)], frame.iloc[max(top, 1) :]
    names = [fmt.plotly_text(f) for f in shown["feature"]]
    values = [float(v) for v in shown["mean_abs"]]
    if not rest.empty:
        names.append(other_label(len(rest)))
        values.append(float(rest["mean_abs"].sum()))
    shares = [v / total if total > 0 else 0.0 for v in values]
    fig = go.Figure(
        go.Bar(
            x=values,
            y=names,
            orientation="h",
            name="mean |SHAP|",
            marker_color=[UP_COLOR] * len(shown) + [NO_VALUE_COLOR] * (0 if rest.empty else 1),
            customdata=shares,
            hovertemplate="%{y}: %{x:.4g} (%{customdata:.1%} of the total)<extra></extra>",
        )
    )
    style(fig, title, "", f"Mean |SHAP value| ({units_label(units)})")
    fig.update_layout(height=max(figures.HEIGHT, 140 + 26 * len(names)), showlegend=False)
    fig.update_yaxes(type="category", autorange="reversed")
    return fig


def swarm_offsets(values: np.ndarray, bins: int = SWARM_BINS) -> np.ndarray:
    """Vertical offsets within ±SWARM_HALF_WIDTH that stack points of similar value, like shap.

    Values are put into `bins` equal bins; the k-th point of a bin goes to layer 0, +1, -1, +2,
    -2, ... and layers are scaled so the fullest bin fills the row.
    """
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return np.zeros(0)
    low, high = float(np.min(values)), float(np.max(values))
    width = (high - low) / bins if high > low else 1.0
    cells = np.minimum(((values - low) / width).astype(np.int64), bins - 1)
    order = np.argsort(values, kind="stable")
    layers = np.zeros(values.size)
    seen: dict[int, int] = {}
    for i in order:
        k = seen.get(int(cells[i]), 0)
        seen[int(cells[i])] = k + 1
        layers[i] = (k + 1) // 2 * (1 if k % 2 else -1)
    deepest = float(np.max(np.abs(layers)))
    return layers * (SWARM_HALF_WIDTH / deepest) if deepest > 0 else layers


def scaled_values(values: np.ndarray) -> np.ndarray:
    """Feature values on [0, 1] between their 5th and 95th percentiles (shap's colour range);
    NaN stays NaN. Outliers clip to the ends, so one huge income doesn't wash out the rest."""
    values = np.asarray(values, dtype=float)
    finite = values[np.isfinite(values)]
    out = np.full(values.shape, np.nan)
    if finite.size == 0:
        return out
    low, high = np.percentile(finite, [5, 95])
    if high <= low:
        low, high = float(finite.min()), float(finite.max())
    if high <= low:
        out[np.isfinite(values)] = 0.5
        return out
    ok = np.isfinite(values)
    out[ok] = np.clip((values[ok] - low) / (high - low), 0.0, 1.0)
    return out


def beeswarm(rows: pd.DataFrame, order: Sequence[str], units: str, top: int = 20) -> go.Figure:
    """Every explained prediction as a point per feature: x its attribution, one row per
    feature in `order` (most important on top), colour its value (grey: categorical/missing).

    The points sit on a hidden numeric axis laid over the categorical one that names the rows,
    so feature names stay in trace data.
    """
    title = "SHAP values of each prediction"
    if lacks(rows, BEESWARM_COLUMNS):
        return figures.empty_figure(title, NO_EXPLANATIONS)
    frame = rows.assign(
        feature=rows["feature"].astype(str),
        attribution=pd.to_numeric(rows["attribution"], errors="coerce"),
    )
    frame = frame[frame["attribution"].notna()]
    present = set(frame["feature"])
    features = [f for f in dict.fromkeys(str(f) for f in order) if f in present]
    features += sorted(present - set(features))
    features = features[: max(top, 1)]
    if not features:
        return figures.empty_figure(title, NO_EXPLANATIONS)
    fig = go.Figure()
    # Names the rows: category i sits at position i, where the hidden axis puts feature i.
    fig.add_scatter(
        x=[0.0] * len(features),
        y=[fmt.plotly_text(f) for f in features],
        mode="markers",
        marker={"opacity": 0},
        hoverinfo="skip",
        showlegend=False,
        name="features",
    )
    numbers = pd.to_numeric(frame["value_num"], errors="coerce").to_numpy(dtype=float)
    texts = frame["value_text"].astype(object).where(frame["value_text"].notna(), MISSING)
    for position, feature in enumerate(features):
        mask = (frame["feature"] == feature).to_numpy()
        x = frame["attribution"].to_numpy(dtype=float)[mask]
        scaled = scaled_values(numbers[mask])
        colors = [
            NO_VALUE_COLOR if math.isnan(s) else c
            for s, c in zip(
                scaled,
                sample_colorscale(FEATURE_SCALE, np.nan_to_num(scaled).tolist()),
                strict=True,
            )
        ]
        name = fmt.plotly_text(feature)
        fig.add_scattergl(
            x=x,
            y=position + swarm_offsets(x),
            mode="markers",
            name=name,
            yaxis="y2",
            marker={"color": colors, "size": 5, "opacity": 0.8},
            customdata=[[name, fmt.plotly_text(t)] for t in texts.to_numpy()[mask]],
            hovertemplate="%{customdata[0]} = %{customdata[1]}<br>SHAP %{x:+.4g}<extra></extra>",
            showlegend=False,
        )
    if np.isfinite(numbers[frame["feature"].isin(features).to_numpy()]).any():
        # An invisible point that carries the colour bar (the traces use explicit colours).
        fig.add_scatter(
            x=[0.0],
            y=[0.0],
            yaxis="y2",
            mode="markers",
            name="feature value",
            marker={
                "opacity": 0,
                "color": [0.0],
                "cmin": 0,
                "cmax": 1,
                "colorscale": FEATURE_SCALE,
                "showscale": True,
                "colorbar": {
                    "title": {"text": "Feature value"},
                    "tickvals": [0, 1],
                    "ticktext": ["low", "high"],
                    "thickness": 12,
                },
            },
            hoverinfo="skip",
            showlegend=False,
        )
    fig.add_vline(x=0, line={"color": "#999", "width": 1})
    style(fig, title, "", f"SHAP value ({units_label(units)}): impact on the model output")
    span = [len(features) - 0.5, -0.5]  # reversed: the first feature on top
    fig.update_layout(
        height=max(figures.HEIGHT, 150 + 34 * len(features)),
        yaxis={"type": "category", "range": span},
        yaxis2={"overlaying": "y", "range": span, "visible": False},
        showlegend=False,
    )
    return fig
