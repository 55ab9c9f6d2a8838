"""Plotly figure builders for the Alerts page: a DataFrame in, a go.Figure out, no I/O.

The timeline is built from the alert_transitions rows of a range: every pending or firing
state becomes a bar from the transition that entered it to the one that left it; a state
still held at the end of the history is drawn up to now.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import plotly.graph_objects as go

from dashboard import figures
from dashboard import format as fmt

TIMELINE_TITLE = "Alert timeline"
NO_ALERTS = "No alert was pending or firing in this range"
ACTIVE = ("pending", "firing")
STATE_COLORS = {"pending": "#F5A623", "firing": "#D62728"}  # amber, red
INTERVAL_COLUMNS = ("rule", "model", "state", "start", "end", "open")
TRANSITION_COLUMNS = ("at", "rule", "model", "from_state", "to_state")
# A bar narrower than this share of the range would not show: it is widened to it.
MIN_BAR_SHARE = 0.005
ROW_HEIGHT = 34


def row_label(rule: str, model: object) -> str:
    """One timeline row: the rule and its model, or the host for a system rule."""
    return f"{rule} · {model or 'host'}"


def _when(value: object) -> datetime:
    """An aware UTC datetime from a pandas or Python timestamp."""
    stamp = pd.Timestamp(value)  # type: ignore[arg-type]
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.to_pydatetime()


def _empty_intervals() -> pd.DataFrame:
    return pd.DataFrame({column: [] for column in INTERVAL_COLUMNS})


def timeline_intervals(
    transitions: pd.DataFrame,
    start: datetime,
    now: datetime,
    current: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Pending and firing intervals per (rule, model) within [start, now].

    ``transitions``: at, rule, model, from_state, to_state (any order). A key's first
    transition leaving pending or firing means it was in that state since before ``start``.
    ``current`` (rule, model, state, since) adds alerts that are pending or firing now but
    changed state before the range, so they have no transition in it. Columns: rule, model,
    state, start, end, open (True when the state still holds and the bar ends at now).
    """
    rows: list[dict[str, object]] = []
    seen: set[tuple[str, str]] = set()
    if not transitions.empty and all(c in transitions.columns for c in TRANSITION_COLUMNS):
        # storage gives newest first; reversing keeps insertion order among equal times.
        ordered = transitions.iloc[::-1].sort_values("at", kind="stable")
        for (rule, model), part in ordered.groupby(["rule", "model"], sort=True):
            seen.add((str(rule), str(model)))
            state, since = str(part["from_state"].iloc[0]), start
            for at, to_state in zip(part["at"], part["to_state"], strict=True):
                when = _when(at)
                if state in ACTIVE:
                    rows.append(_interval(rule, model, state, since, when, start, now, False))
                state, since = str(to_state), when
            if state in ACTIVE:
                rows.append(_interval(rule, model, state, since, now, start, now, True))
    if current is not None and not current.empty:
        for record in current.to_dict("records"):
            key = (str(record["rule"]), str(record["model"] or ""))
            if key in seen or record["state"] not in ACTIVE:
                continue
            at = record["since"]
            since = start if at is None or pd.isna(at) else _when(at)
            rows.append(_interval(*key, str(record["state"]), since, now, start, now, True))
    if not rows:
        return _empty_intervals()
    frame = pd.DataFrame(rows, columns=list(INTERVAL_COLUMNS))
    return frame[frame["end"] >= frame["start"]].reset_index(drop=True)


def _interval(
    rule: object,
    model: object,
    state: str,
    begin: datetime,
    end: datetime,
    start: datetime,
    now: datetime,
    still_open: bool,
) -> dict[str, object]:
    return {
        "rule": str(rule),
        "model": str(model or ""),
        "state": state,
        "start": max(begin, start),
        "end": min(end, now),
        "open": still_open,
    }


def _naive(value: datetime) -> datetime:
    """Naive UTC (Plotly would shift an aware time to the browser's zone)."""
    return _when(value).replace(tzinfo=None)


def alert_timeline(intervals: pd.DataFrame, start: datetime, now: datetime) -> go.Figure:
    """One row per rule and model; amber bars while pending, red while firing."""
    if intervals.empty or any(c not in intervals.columns for c in INTERVAL_COLUMNS):
        return figures.empty_figure(TIMELINE_TITLE, NO_ALERTS)
    labels = [row_label(r, m) for r, m in zip(intervals["rule"], intervals["model"], strict=True)]
    shown = intervals.assign(label=[fmt.plotly_text(text) for text in labels])
    order = sorted(set(shown["label"]))
    minimum = (now - start) * MIN_BAR_SHARE
    fig = go.Figure()
    for state in ACTIVE:
        part = shown[shown["state"] == state]
        if part.empty:
            continue
        begins = [_naive(t) for t in part["start"]]
        ends = [_naive(t) for t in part["end"]]
        spans = [max(e - b, minimum) for b, e in zip(begins, ends, strict=True)]
        # A widened bar near now grows to the left: the axis ends at now.
        bases = [min(b, _naive(now) - w) for b, w in zip(begins, spans, strict=True)]
        hover = [
            f"{state} for {fmt.duration((e - b).total_seconds())}"
            + (" (still open)" if still_open else "")
            for b, e, still_open in zip(begins, ends, part["open"], strict=True)
        ]
        fig.add_bar(
            base=bases,
            x=[w / timedelta(milliseconds=1) for w in spans],
            y=list(part["label"]),
            orientation="h",
            name=state,
            marker_color=STATE_COLORS[state],
            customdata=list(zip(hover, [f"{b:%Y-%m-%d %H:%M:%S}" for b in begins], strict=True)),
            hovertemplate="%{y}<br>%{customdata[0]}<br>from %{customdata[1]} UTC<extra></extra>",
        )
    fig.update_layout(
        template=figures.TEMPLATE,
        title={"text": TIMELINE_TITLE, "x": 0, "xanchor": "left"},
        height=max(figures.HEIGHT, 160 + ROW_HEIGHT * len(order)),
        margin={"l": 60, "r": 20, "t": 50, "b": 110},
        barmode="overlay",
        hovermode="closest",
        legend={"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom", "x": 0},
    )
    fig.update_xaxes(type="date", range=[_naive(start), _naive(now)], title_text=figures.TIME_AXIS)
    fig.update_yaxes(categoryorder="array", categoryarray=order, autorange="reversed")
    return fig
