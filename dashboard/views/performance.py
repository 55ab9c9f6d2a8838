"""Performance: a model's metrics against its objectives, label-delay aware, by window,
segment and version."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
import streamlit as st

from collectors.performance_view import PerformanceView
from dashboard import auth, data, perf_data, perf_figures, pii_view
from dashboard import format as fmt
from dashboard.views import getting_started
from monitoring.metrics import METRICS_BY_TASK, residuals
from monitoring.pii import without_dimensions
from monitoring.slo import Objective

Segment = tuple[str, str]
NO_LABELS = (
    "No labelled predictions in this range yet, so there are no performance metrics. Send "
    "ground truth with `POST /api/v1/models/<model>/labels` (records of event_id and label); "
    "latency and traffic are on the **Latency & traffic** page."
)


def show(container: Any, figure: Any, key: str) -> None:
    """A Plotly chart with its own template (theme=None keeps plotly_white)."""
    container.plotly_chart(figure, theme=None, config={"displaylogo": False}, key=key)


def value_text(metric: str, value: float | None) -> str:
    """Fractions with three decimals (as objectives are written), others with four digits."""
    if value is None:
        return fmt.MISSING
    if metric in perf_figures.RATIO_METRICS:
        return f"{value:.3f}"
    return f"{value:,.4g}"


def applicable(name: str, version: str | None) -> list[Objective]:
    """The model's objectives that apply to the chosen version (all-version ones always)."""
    objectives = perf_data.model_settings(name).objectives
    return [o for o in objectives if o.version is None or o.version == version]


def segment_picker(name: str, start: datetime, end: datetime) -> Segment | None:
    """A dimension (tag or categorical feature) and one of its values, or None."""
    dimensions = perf_data.segment_dimensions(name, start, end)
    left, right = st.columns(2)
    dimension = left.selectbox(
        "Segment",
        [perf_data.NO_SEGMENT, *dimensions],
        key=f"perf_segment_{name}",
        help="Restrict the page to predictions with one tag or categorical feature value",
    )
    if dimension == perf_data.NO_SEGMENT:
        return None
    if pii_view.segment_refused(right, str(dimension), auth.hidden_features(name)):
        return None
    values = perf_data.segment_values(name, start, end, str(dimension))
    if not values:
        right.caption("No values of this dimension in the range.")
        return None
    value = right.selectbox("Value", values, key=f"perf_segment_value_{name}_{dimension}")
    return str(dimension), str(value)


def kpi_tiles(name: str, task: str, overall: dict[str, Any], version: str | None) -> None:
    """The task's headline metrics over the range, each against its objective if any."""
    headline = perf_data.HEADLINE[task]
    tiles = st.columns(len(headline) + 1)
    coverage = overall.get("label_coverage")
    tiles[0].metric(
        "Labelled",
        fmt.percent(coverage, ratio=True),
        f"{fmt.count(overall['labeled'])} of {fmt.count(overall['count'])}",
        delta_color="off",
        delta_arrow="off",
        border=True,
    )
    objectives = applicable(name, version)
    for tile, metric in zip(tiles[1:], headline, strict=True):
        value = overall.get(metric)
        objective = next((o for o in objectives if o.metric == metric), None)
        delta, color = None, "off"
        if objective is not None and value is not None:
            met = objective.met_by(value)
            delta = f"{'met' if met else 'missed'}: {objective.op} {objective.target:g}"
            color = "green" if met else "red"
        tile.metric(
            perf_figures.metric_label(metric),
            value_text(metric, value),
            delta,
            delta_color=color,  # type: ignore[arg-type]
            delta_arrow="off",
            border=True,
            help=f"`{metric}` over the whole range",
        )


def objectives_section(name: str, start: datetime, end: datetime, window: str) -> None:
    """Each configured objective: now, status, compliance and error budget over the range."""
    st.subheader("Objectives")
    settings = perf_data.model_settings(name)
    if not settings.objectives:
        # Model names are checked identifiers; dropping backticks keeps the code span closed.
        table_name = name.replace("`", "")
        st.caption(
            f'No objectives configured: add `objectives = ["accuracy >= 0.9"]` under '
            f"`[models.{table_name}]` in the config file."
        )
        return
    table = perf_data.objectives_table(name, start, end, window)
    st.caption(
        f"Evaluated per {window} window; provisional windows (label coverage below "
        f"{settings.provisional_coverage:.0%}) are left out of label-based objectives. "
        f"Error budget: {1 - settings.objective_target:.0%} of windows may miss."
    )
    # Shares shown as percentages, NaN (blank) where undefined; the CSV keeps fractions.
    percent = {c: table[c].astype(float) * 100 for c in ("compliance", "error budget remaining")}
    st.dataframe(
        table.assign(now=table["now"].astype(float), **percent),
        hide_index=True,
        column_config={
            "now": st.column_config.NumberColumn("now", format="%.4g"),
            "compliance": st.column_config.NumberColumn("compliance", format="%.1f %%"),
            "error budget remaining": st.column_config.NumberColumn(
                "error budget remaining", format="%.1f %%"
            ),
        },
        placeholder=fmt.MISSING,
        key="perf_objectives",
    )
    perf_data.download(st, table, f"{name}-objectives.csv", "perf_objectives_csv")


def over_time(
    name: str,
    task: str,
    rows: pd.DataFrame,
    window: str,
    version: str | None,
) -> str:
    """The chosen metric per window and the label coverage; returns the chosen metric."""
    metrics = list(METRICS_BY_TASK[task])
    metric = str(
        st.selectbox(
            "Metric",
            metrics,
            format_func=perf_figures.metric_label,
            key=f"perf_metric_{name}",
        )
    )
    threshold = perf_data.model_settings(name).provisional_coverage
    target = next((o.target for o in applicable(name, version) if o.metric == metric), None)
    left, right = st.columns(2)
    figure = perf_figures.metric_over_time(rows, metric, threshold, window, target)
    show(left, figure, "perf_metric_chart")
    show(right, perf_figures.coverage_and_delay(rows, threshold, window), "perf_coverage")
    with st.expander("Per-window table"):
        st.dataframe(rows, hide_index=True, placeholder=fmt.MISSING, key="perf_rows")
        perf_data.download(st, rows, f"{name}-metrics.csv", "perf_rows_csv")
    return metric


def diagnostics(
    name: str,
    view: PerformanceView,
    start: datetime,
    end: datetime,
    version: str | None,
    segment: Segment | None,
) -> None:
    """Confusion matrix and calibration (classification) or residuals (regression)."""
    left, right = st.columns(2)
    if not view.classes:  # regression: residuals need the rows
        rows = perf_data.labelled(name, start, end, version, segment, ("prediction", "label"))
        values = residuals(rows["label"].to_numpy(), rows["prediction"].to_numpy())
        show(left, perf_figures.residual_histogram(values), "perf_residuals")
        return
    show(left, perf_figures.confusion_heatmap(view.classes, view.confusion), "perf_confusion")
    if view.calibration is not None:
        show(right, perf_figures.calibration(view.calibration), "perf_calibration")
    elif "recall_by_class" in view.overall:
        recalls = view.overall["recall_by_class"]
        show(right, perf_figures.class_recall(recalls), "perf_class_recall")


def worst_metric(name: str, task: str) -> str:
    """The metric the worst-segments table ranks by: the chosen chart metric if rankable."""
    rankable = perf_data.rankable(task)
    chosen = st.session_state.get(f"perf_metric_{name}", METRICS_BY_TASK[task][0])
    return str(chosen) if chosen in rankable else rankable[0]


def worst_section(name: str, metric: str, table: pd.DataFrame | None) -> None:
    """Segments whose metric falls furthest below the whole range's."""
    st.subheader(f"Worst segments by {perf_figures.metric_label(metric)}")
    hidden = auth.hidden_features(name)
    if table is not None and hidden:
        # A segment row names a value: rows of PII features stay out for viewers.
        kept = without_dimensions(table, hidden)
        if len(kept) < len(table):
            st.caption(pii_view.left_out_caption(hidden, "Segments by"))
        table = kept
    if table is None or table.empty:
        st.info(
            "No segment has enough labelled predictions (30) to rank: segments come from "
            "tags and categorical features."
        )
        return
    st.dataframe(table, hide_index=True, placeholder=fmt.MISSING, key="perf_worst")
    perf_data.download(st, table, f"{name}-worst-segments.csv", "perf_worst_csv")


@st.fragment(run_every=data.runtime().settings.dashboard_refresh_s)
def live(name: str, version: str | None, range_label: str, window_choice: str) -> None:
    """The refreshing part: KPIs, objectives, charts and segments of the chosen range."""
    resolved = perf_data.live_range(name, range_label, window_choice, "performance")
    if resolved is None:
        return
    summary, start, end, window = resolved
    segment = segment_picker(name, start, end)
    st.caption(
        f"{fmt.markdown_text(range_label)}: {fmt.timestamp(start)} to "
        f"{fmt.timestamp(summary['last_seen'])}, in {window} windows"
    )
    try:
        body(name, summary, start, end, window, version, segment)
    except ValueError as exc:  # e.g. too many windows for the range: say how to fix it
        st.warning(str(exc))


def body(
    name: str,
    summary: dict[str, Any],
    start: datetime,
    end: datetime,
    window: str,
    version: str | None,
    segment: Segment | None,
) -> None:
    """Everything below the pickers."""
    task = summary["task"]
    ranked_by = worst_metric(name, task)
    view = perf_data.view(name, start, end, window, version, segment, ranked_by)
    overall, rows = view.overall, perf_data.rows_frame(view.rows)
    if not overall.get("labeled"):
        st.info(NO_LABELS)
        threshold = perf_data.model_settings(name).provisional_coverage
        show(st, perf_figures.coverage_and_delay(rows, threshold, window), "perf_coverage")
        return
    kpi_tiles(name, task, overall, version)
    objectives_section(name, start, end, window)
    st.subheader("Over time")
    over_time(name, task, rows, window, version)
    st.subheader("Diagnostics")
    diagnostics(name, view, start, end, version, segment)
    if segment is None:
        worst_section(name, ranked_by, view.worst)


def comparison_section(name: str, range_label: str) -> None:
    """Champion against challenger over the chosen range, with bootstrap CIs."""
    st.subheader("Version comparison")
    summary = next((m for m in data.model_summaries() if m["name"] == name), None)
    versions = [str(v) for v in (summary or {}).get("versions", [])]
    if summary is None or len(versions) < 2 or not summary["labels"]:
        st.info("Comparing versions needs labelled predictions of at least two versions.")
        return
    left, right = st.columns(2)
    champion = left.selectbox("Champion (A)", versions, index=0, key=f"perf_a_{name}")
    challenger = right.selectbox(
        "Challenger (B)", versions, index=len(versions) - 1, key=f"perf_b_{name}"
    )
    if champion == challenger:
        st.warning("Pick two different versions to compare.")
        return
    start, end = data.model_range(range_label, summary["first_seen"], summary["last_seen"])
    assert start is not None and end is not None
    table = perf_data.comparison(name, start, end, str(champion), str(challenger))
    st.caption(
        f"B - A over {fmt.markdown_text(range_label)}; significant when the 95% CI excludes 0."
    )
    shown = table.assign(
        metric=table["metric"].map(perf_figures.metric_label),
        ci=[
            fmt.MISSING if lo is None or hi is None or pd.isna(lo) else f"[{lo:.4g}, {hi:.4g}]"
            for lo, hi in zip(table["ci_low"], table["ci_high"], strict=True)
        ],
        p_value=table["p_value"].astype(float),  # NaN shows blank, None would read "None"
    )[["metric", "a", "b", "diff", "ci", "significant", "method", "p_value"]]
    st.dataframe(
        shown,
        hide_index=True,
        column_config={
            "a": st.column_config.NumberColumn(f"A: {champion}", format="%.4g"),
            "b": st.column_config.NumberColumn(f"B: {challenger}", format="%.4g"),
            "diff": st.column_config.NumberColumn("B - A", format="%+.4g"),
            "ci": st.column_config.TextColumn("95% CI"),
            "p_value": st.column_config.NumberColumn("p-value", format="%.3g"),
        },
        placeholder=fmt.MISSING,
        key="perf_compare",
    )
    perf_data.download(st, table, f"{name}-compare-{champion}-{challenger}.csv", "perf_cmp_csv")


models = data.model_summaries()
if not models:
    getting_started.render(no_models=True)
    st.stop()
st.title("Performance")
model_name, chosen_version, chosen_range, chosen_window = perf_data.pickers(models, "perf")
live(model_name, chosen_version, chosen_range, chosen_window)
comparison_section(model_name, chosen_range)
