"""The Explanations page's "One segment" section: importance within one segment against the
whole range. Segments by a PII feature name its values, so they are refused to viewers."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st

from dashboard import auth, explain_data, perf_data, pii_view, shap_figures
from dashboard import format as fmt

SHARE = st.column_config.NumberColumn(format="percent")


def segment_picker(name: str, start: datetime, end: datetime) -> tuple[str, str] | None:
    """A dimension (tag or categorical feature) and one of its values, or None."""
    dimensions = perf_data.segment_dimensions(name, start, end)
    if not dimensions:
        st.caption("The model has no tags or categorical features to segment by.")
        return None
    left, right = st.columns(2)
    dimension = left.selectbox("Segment by", dimensions, key=f"explain_segment_{name}")
    if pii_view.segment_refused(right, str(dimension), auth.hidden_features(name)):
        return None
    values = perf_data.segment_values(name, start, end, str(dimension))
    if not values:
        right.caption("No values of this dimension in the range.")
        return None
    value = right.selectbox("Value", values, key=f"explain_segment_value_{name}_{dimension}")
    return str(dimension), str(value)


def segment_section(name: str, version: str | None, start: datetime, end: datetime) -> None:
    """Importance within one segment, against the whole range."""
    st.subheader("One segment")
    segment = segment_picker(name, start, end)
    if segment is None:
        return
    try:
        frame, units, explained = explain_data.importance(name, start, end, version, segment)
    except explain_data.ACTION_ERRORS as exc:
        st.warning(fmt.markdown_text(exc))
        return
    if explained == 0:
        st.caption("No explained predictions in this segment.")
        return
    overall, _, _ = explain_data.importance(name, start, end, version)
    left, right = st.columns(2)
    left.plotly_chart(
        shap_figures.importance_bar(frame, units),
        theme=None,
        config={"displaylogo": False},
        key="explain_segment_importance",
    )
    shares = overall.set_index("feature")["share"]
    table = pd.DataFrame(
        {
            "feature": frame["feature"].to_numpy(),
            "share in segment": frame["share"].to_numpy(),
            "share overall": [shares.get(f) for f in frame["feature"]],
        }
    )
    # In percentage points: shares are fractions, the table shows them as percents.
    table["difference"] = 100 * (table["share in segment"] - pd.to_numeric(table["share overall"]))
    right.dataframe(
        table,
        hide_index=True,
        column_config={
            "share in segment": SHARE,
            "share overall": SHARE,
            "difference": st.column_config.NumberColumn(format="%+.1f pp"),
        },
        placeholder=fmt.MISSING,
        key="explain_segment_table",
    )
    right.caption(
        f"{fmt.count(explained)} explained predictions where "
        f"{fmt.markdown_text(segment[0])} = {fmt.markdown_text(segment[1])}."
    )
