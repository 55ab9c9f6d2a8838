"""Data quality: missing, NaN, infinite, out-of-range and unseen values per feature, constant
features, and the records refused at ingestion."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import data, drift_data, perf_data, quality_figures
from dashboard import format as fmt
from dashboard.perf_figures import WINDOW_WORDS
from dashboard.views import getting_started

PERCENT = "percent"
WORST_CONFIG = {
    "rows": st.column_config.NumberColumn("rows", format="localized"),
    "missing_rate": st.column_config.NumberColumn("missing", format=PERCENT),
    "nan": st.column_config.NumberColumn("NaN values"),
    "inf": st.column_config.NumberColumn("infinite values"),
    "out_of_range_rate": st.column_config.NumberColumn("out of range", format=PERCENT),
    "unseen_rate": st.column_config.NumberColumn("unseen category", format=PERCENT),
    "constant_windows": st.column_config.NumberColumn("constant windows"),
    "worst": st.column_config.NumberColumn(
        "worst rate", format=PERCENT, help="The largest of the feature's rates"
    ),
}
REJECTIONS_SPAN = timedelta(days=30)  # the rejections' range when "All" has no predictions


def show(container: Any, figure: Any, key: str) -> None:
    """A Plotly chart with its own template (theme=None keeps plotly_white)."""
    container.plotly_chart(figure, theme=None, config={"displaylogo": False}, key=key)


def constant_table(quality: pd.DataFrame, worst: pd.DataFrame) -> pd.DataFrame:
    """Features constant in at least one window: in how many of their windows."""
    windows = quality.assign(feature=quality["feature"].astype(str)).groupby("feature").size()
    constant = worst[worst["constant_windows"] > 0]
    return pd.DataFrame(
        {
            "feature": constant["feature"].to_numpy(),
            "constant windows": constant["constant_windows"].to_numpy(),
            "of windows": [int(windows.get(f, 0)) for f in constant["feature"]],
        }
    )


@st.fragment(run_every=data.runtime().settings.dashboard_refresh_s)
def live(name: str, version: str | None, range_label: str, window: str) -> None:
    """The refreshing part: the stored quality rows of the range."""
    resolved = drift_data.page_range(name, range_label, "data quality")
    if resolved is None:
        return
    _, start, end = resolved
    st.caption(f"{fmt.markdown_text(range_label)}: {fmt.timestamp(start)} to {fmt.timestamp(end)}")
    quality = drift_data.stored_quality(name, window, start, end, version)
    if quality.empty:
        settings = data.runtime().settings
        word = WINDOW_WORDS.get(window, window)
        st.info(
            "No data-quality results are stored for this range yet. The drift job checks "
            f"every {fmt.duration(settings.drift_interval_s)} and computes each closed {word} "
            "together with its drift, against the model's reference: set one on the Drift "
            "page if the model has none.",
            icon=":material/hourglass_empty:",
        )
        return
    worst = quality_figures.worst_features(quality)
    st.subheader("Features, worst first")
    st.dataframe(
        worst,
        hide_index=True,
        column_config=WORST_CONFIG,  # type: ignore[arg-type]
        placeholder=fmt.MISSING,
        key="quality_worst",
    )
    perf_data.download(st, worst, f"{name}-quality.csv", "quality_worst_csv")
    check = st.segmented_control(
        "Check",
        list(quality_figures.QUALITY_CHECKS),
        format_func=lambda c: quality_figures.QUALITY_CHECKS[c],
        default="missing",
        required=True,
        key="quality_check",
    )
    figure = quality_figures.quality_over_time(quality, str(check), window)
    show(st, figure, "quality_over_time")
    st.markdown("**Constant features** (at least two values, all the same)")
    constant = constant_table(quality, worst)
    if constant.empty:
        st.caption("No feature was constant in any window of this range.")
    else:
        st.dataframe(constant, hide_index=True, key="quality_constant")


def rejection_range(name: str, range_label: str) -> tuple[datetime, datetime]:
    """The range of refused records: the page's range, stretched to now.

    Refused records are counted by the hour they arrived, and a model whose records are all
    refused has no predictions to end its range at.
    """
    now = pd.Timestamp(datetime.now(UTC)).ceil("h").to_pydatetime()
    summary = next((m for m in data.model_summaries() if m["name"] == name), None)
    first, last = (summary or {}).get("first_seen"), (summary or {}).get("last_seen")
    if first is not None and last is not None:
        start, end = data.model_range(range_label, first, last)
        assert start is not None and end is not None
        return start, max(end, now)
    return now - (data.OVERVIEW_RANGES[range_label] or REJECTIONS_SPAN), now


def rejections_section(name: str, range_label: str) -> None:
    """Records refused at ingestion, per hour and reason, and the totals."""
    st.subheader("Refused at ingestion")
    start, end = rejection_range(name, range_label)
    refused = drift_data.rejections(name, start, end)
    show(st, quality_figures.rejections_over_time(refused), "quality_rejections")
    if refused.empty:
        st.caption(f"No records refused from {fmt.timestamp(start)} to {fmt.timestamp(end)}.")
        return
    sums = refused.assign(reason=refused["reason"].astype(str)).groupby("reason")["count"].sum()
    totals = pd.DataFrame({"reason": sums.index, "count": sums.to_numpy()})
    totals = totals.sort_values(["count", "reason"], ascending=[False, True], ignore_index=True)
    st.dataframe(totals, hide_index=True, key="quality_rejection_totals")
    perf_data.download(st, totals, f"{name}-rejections.csv", "quality_rejections_csv")
    st.caption(
        "Counted by the hour the records arrived: invalid records (by the first field that "
        "failed) and predictions whose event_id was already stored."
    )


models = data.model_summaries()
if not models:
    getting_started.render(no_models=True)
    st.stop()
st.title("Data quality")
model_name, chosen_version, chosen_range, chosen_window = drift_data.pickers(models, "quality")
live(model_name, chosen_version, chosen_range, chosen_window)
rejections_section(model_name, chosen_range)
