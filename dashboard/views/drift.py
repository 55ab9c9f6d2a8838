"""Drift: the reference in use, stored drift per window, one feature's drill-down, the range
computed now and Evidently's report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from collectors.drift_service import NoReference
from dashboard import auth, data, drift_data, drift_figures, drift_reference, perf_data, pii_view
from dashboard import format as fmt
from dashboard.perf_figures import WINDOW_WORDS
from dashboard.views import getting_started

SCORE = st.column_config.NumberColumn(format="%.4g")


WINDOW_SPANS = {"1h": timedelta(hours=1), "1d": timedelta(days=1)}


def show(container: Any, figure: Any, key: str) -> None:
    """A Plotly chart with its own template (theme=None keeps plotly_white)."""
    container.plotly_chart(figure, theme=None, config={"displaylogo": False}, key=key)


def tiles(windows: pd.DataFrame, results: pd.DataFrame, window: str) -> None:
    """The newest stored window: drift share, drifted features, multivariate AUC, prediction."""
    latest = windows.iloc[-1]
    cols = st.columns(4)
    dataset_drift = bool(latest["dataset_drift"])
    cols[0].metric(
        "Drift share",
        fmt.percent(latest["drift_share"], ratio=True),
        "dataset drift" if dataset_drift else "no dataset drift",
        delta_color="red" if dataset_drift else "green",
        delta_arrow="off",
        help="Share of the tested features that drifted in the newest stored window",
        border=True,
    )
    cols[1].metric(
        "Drifted features",
        f"{int(latest['n_drifted'])} of {int(latest['n_tested'])}",
        help="Drifted features of those tested (both sides had values)",
        border=True,
    )
    auc = drift_data.number(latest["multivariate_auc"])
    flagged = latest["multivariate_drifted"]
    cols[2].metric(
        "Multivariate ROC AUC",
        fmt.MISSING if auc is None else f"{auc:.3f}",
        None if auc is None else ("drifted" if bool(flagged) else "no drift"),
        delta_color="red" if auc is not None and bool(flagged) else "green",
        delta_arrow="off",
        help="How well a classifier tells the window from the reference: 0.5 means not at all",
        border=True,
    )
    starts = pd.to_datetime(results["window_start"], utc=True)
    newest = pd.Timestamp(latest["window_start"]).tz_convert(UTC)
    prediction = results[(results["role"] == "prediction") & (starts == newest).to_numpy()]
    score = drift_data.number(prediction["score"].iloc[0]) if not prediction.empty else None
    drifted = not prediction.empty and bool(prediction["drifted"].iloc[0])
    cols[3].metric(
        "Prediction drift",
        fmt.MISSING if score is None else f"{score:.3g}",
        None
        if score is None
        else f"{prediction['method'].iloc[0]}: " + ("drifted" if drifted else "no drift"),
        delta_color="red" if drifted else "green",
        delta_arrow="off",
        help="Drift of the predictions themselves (the method's score)",
        border=True,
    )
    word = WINDOW_WORDS.get(window, window)
    st.caption(
        f"Newest stored {word}: {fmt.timestamp(newest.to_pydatetime())}, "
        f"{fmt.count(latest['rows'])} predictions ({fmt.count(latest['labelled'])} labelled), "
        f"against reference {int(latest['reference_id'])}."
    )


@st.fragment(run_every=data.runtime().settings.dashboard_refresh_s)
def live(name: str, version: str | None, range_label: str, window: str) -> None:
    """The refreshing part: the stored windows of the range, as the drift job adds them."""
    resolved = drift_data.page_range(name, range_label, "drift")
    if resolved is None:
        return
    _, start, end = resolved
    st.subheader("Stored windows")
    windows = drift_data.stored_windows(name, window, start, end, version)
    settings = data.runtime().settings
    if windows.empty:
        word = WINDOW_WORDS.get(window, window)
        st.info(
            f"No drift is stored for this range yet. The drift job checks every "
            f"{fmt.duration(settings.drift_interval_s)} and computes each closed {word} "
            f"against the reference; the {word} still open is judged once it closes. "
            "Meanwhile, the range computed now is below.",
            icon=":material/hourglass_empty:",
        )
        return
    results = drift_data.stored_results(name, window, start, end, version)
    tiles(windows, results, window)
    oldest = pd.Timestamp(windows["window_start"].iloc[0]).to_pydatetime()
    if oldest - start > WINDOW_SPANS.get(window, timedelta(days=1)):
        st.caption(
            f"{fmt.count(len(windows))} windows stored, from {fmt.timestamp(oldest)}. The drift "
            "job adds older ones each run (newest first), back to "
            f"{settings.drift_lookback_days:g} days (drift_lookback_days)."
        )
    features = results[results["role"] == "feature"]
    show(st, drift_figures.drift_heatmap(features, window), "drift_heatmap")
    drift = settings.model(name).drift
    left, right = st.columns(2)
    show(
        left, drift_figures.drift_share_over_time(windows, drift.drift_share, window), "drift_share"
    )
    threshold = drift.multivariate_threshold
    show(right, drift_figures.multivariate_over_time(windows, threshold, window), "drift_auc")


def drill_down(name: str, version: str | None, start: datetime, end: datetime, window: str) -> None:
    """One feature: its distribution against the reference and its score per window."""
    st.subheader("One feature")
    model = data.model(name)
    results = drift_data.stored_results(name, window, start, end, version, role="feature")
    options = drift_data.ranked_features(list(model.features), results)
    if not options:
        st.caption("The model has no features.")
        return
    feature = st.selectbox(
        "Feature", options, key=f"drift_feature_{name}", help="Ordered worst first"
    )
    left, right = st.columns(2)
    # A distribution draws the values themselves: none for a PII feature the viewer may not see.
    if str(feature) in auth.hidden_features(name):
        pii_view.hidden_chart(left, str(feature))
        values = None
    else:
        values = drift_data.distribution(name, str(feature), start, end, version)
    if values is not None:
        kind = model.features[str(feature)]
        overlay = drift_figures.distribution_overlay(values[0], values[1], kind, str(feature))
        show(left, overlay, "drift_distribution")
    score = drift_figures.feature_score_over_time(results, str(feature), window)
    show(right, score, "drift_feature_score")


def range_section(name: str, version: str | None, start: datetime, end: datetime) -> None:
    """Drift of the whole range against the reference, computed now (cached a minute)."""
    st.subheader("This range, computed now")
    try:
        found = drift_data.range_drift(name, start, end, version)
    except (NoReference, ValueError) as exc:
        st.warning(fmt.markdown_text(exc))
        return
    result = found.result
    sampled = ""
    if found.rows_in_range > result.rows:
        sampled = f" (a sample of the {fmt.count(found.rows_in_range)} in the range)"
    st.caption(
        f"{fmt.count(result.rows)} predictions{sampled} from {fmt.timestamp(start)} to "
        f"{fmt.timestamp(end)} against reference {found.reference.id} "
        f"({fmt.count(found.reference.rows)} rows)."
    )
    cols = st.columns(3)
    cols[0].metric(
        "Drift share (range)", fmt.percent(result.dataset.share, ratio=True), border=True
    )
    cols[1].metric(
        "Drifted features (range)",
        f"{result.dataset.n_drifted} of {result.dataset.n_tested}",
        border=True,
    )
    multi = result.multivariate
    auc = None if multi is None else multi.roc_auc
    cols[2].metric(
        "Multivariate ROC AUC (range)",
        fmt.MISSING if auc is None else f"{auc:.3f}",
        help=None if multi is None else f"Drift at or above {multi.threshold:g}",
        border=True,
    )
    left, right = st.columns([3, 2])
    table = result.drift_rows()
    with left:
        st.dataframe(
            table,
            hide_index=True,
            column_config={"score": SCORE, "threshold": SCORE},
            placeholder=fmt.MISSING,
            key="drift_range_table",
        )
        perf_data.download(st, table, f"{name}-drift-range.csv", "drift_range_csv")
    if multi is not None:
        show(right, drift_figures.top_features_bar(list(multi.top_features)), "drift_top")


def report_section(name: str, version: str | None, start: datetime, end: datetime) -> None:
    """Build Evidently's HTML report of the range on demand, then offer it for download."""
    st.subheader("Evidently report")
    hidden = auth.hidden_features(name)
    wanted = (name, version, start, end, hidden)
    if st.button("Build Evidently report", key="drift_report_build", icon=":material/summarize:"):
        with st.spinner("Building the report: Evidently takes a few seconds…"):
            try:
                html = drift_data.evidently_report(name, start, end, version, hidden)
            except drift_data.ACTION_ERRORS as exc:
                st.error(fmt.markdown_text(f"No report: {exc}"))
            else:
                st.session_state["drift_report"] = (wanted, html)
    built = st.session_state.get("drift_report")
    if built is not None and built[0] == wanted:
        st.download_button(
            "Download Evidently report",
            built[1],
            file_name=drift_data.report_file_name(name, start, end),
            mime="text/html",
            key="drift_report_download",
            on_click="ignore",
            icon=":material/download:",
        )
    rows = data.runtime().settings.evidently_max_rows
    st.caption(
        f"Evidently's DataDriftPreset on this range against the reference. Above "
        f"{rows:,} rows, each side is a random sample of {rows:,} rows."
        + (" PII features are left out of it." if hidden else "")
    )


models = data.model_summaries()
if not models:
    getting_started.render(no_models=True)
    st.stop()
st.title("Drift")
if drift_data.service() is None:
    st.info(drift_data.NO_SERVICE)
    st.stop()
model_name, chosen_version, chosen_range, chosen_window = drift_data.pickers(models, "drift")
model_summary = next(m for m in models if m["name"] == model_name)
in_use = drift_reference.reference_panel(model_name, chosen_version, model_summary)
if in_use is None:
    st.stop()
page = drift_data.page_range(model_name, chosen_range, "drift")
if page is None:
    st.stop()
_, range_start, range_end = page
st.caption(
    f"{fmt.markdown_text(chosen_range)}: {fmt.timestamp(range_start)} to {fmt.timestamp(range_end)}"
)
live(model_name, chosen_version, chosen_range, chosen_window)
drill_down(model_name, chosen_version, range_start, range_end, chosen_window)
range_section(model_name, chosen_version, range_start, range_end)
report_section(model_name, chosen_version, range_start, range_end)
