"""Explanations: why one prediction came out as it did (SHAP waterfall), which features drive
the model over a range, whether that ranking drifted from the reference, and per segment."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import (
    attribution_figures,
    auth,
    data,
    drift_data,
    explain_data,
    explain_segment,
    perf_data,
    pii_view,
    shap_figures,
)
from dashboard import format as fmt
from dashboard.perf_figures import WINDOW_WORDS
from dashboard.views import getting_started
from monitoring.explain.attribution_drift import NDCG_THRESHOLD
from monitoring.pii import mask_explanation, mask_long_rows
from storage.artifacts import ArtifactInfo

TIME = st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss", timezone="UTC")
SCORE = st.column_config.NumberColumn(format="%.4g")
SHARE = st.column_config.NumberColumn(format="percent")
PREDICTION_COLUMNS = ["event_id", "ts", "version", "prediction", "score", "label", "explained"]


def show(container: Any, figure: Any, key: str) -> None:
    """A Plotly chart with its own template (theme=None keeps plotly_white)."""
    container.plotly_chart(figure, theme=None, config={"displaylogo": False}, key=key)


def say(ok: bool, text: str) -> None:
    """Keep a message for the next run of the page."""
    data.say("explain_flash", ok, text)


def flash() -> None:
    """Show, once, the message a callback left."""
    data.flash("explain_flash")


def artifact_panel(name: str, version: str | None, versions: list[str]) -> None:
    """Which artifacts explain the chosen versions, and the versions left unexplained."""
    found = explain_data.artifacts(name)
    have = {a.version for a in found}
    chosen = [a for a in found if version is None or a.version == version]
    text = fmt.markdown_text
    described = "; ".join(
        f"version {text(a.version)}: {text(a.estimator)} ({text(a.explainer)} explainer, "
        f"{text(a.units)})"
        for a in chosen
    )
    st.markdown(f"**Model artifact**: {described}.")
    lacking = [v for v in versions if v not in have]
    if version is None and lacking:
        st.caption(
            f"Versions without an artifact ({', '.join(text(v) for v in lacking)}) are not "
            f"explained: register them with `vigil model register FILE --model {name} "
            "--version V`."
        )
    with st.expander("Every artifact", icon=":material/inventory_2:"):
        frame = pd.DataFrame([artifact_row(a) for a in found])
        st.dataframe(
            frame,
            hide_index=True,
            column_config={"uploaded_at": TIME, "size": "size"},
            key=f"explain_artifacts_{name}",
        )


def artifact_row(artifact: ArtifactInfo) -> dict[str, Any]:
    """One artifact for the table: the hash shortened, the size in bytes units."""
    return {
        "version": artifact.version,
        "estimator": artifact.estimator,
        "explainer": artifact.explainer,
        "units": artifact.units,
        "size": fmt.bytes_(artifact.size_bytes),
        "sha256": artifact.sha256[:12],
        "uploaded_at": pd.Timestamp(artifact.uploaded_at),
    }


def prediction_table(frame: pd.DataFrame, key: str) -> str | None:
    """A table of predictions to pick one from; the event_id of the selected row, if any."""
    shown = frame[[c for c in PREDICTION_COLUMNS if c in frame.columns]]
    event = st.dataframe(
        shown,
        hide_index=True,
        column_config={"ts": TIME, "score": SCORE},
        placeholder=fmt.MISSING,
        on_select="rerun",
        selection_mode="single-row",
        key=key,
    )
    rows = event.selection.rows if event is not None else []
    return str(shown["event_id"].iloc[rows[0]]) if rows and rows[0] < len(shown) else None


def pick_event(name: str, version: str | None, start: datetime, end: datetime) -> str:
    """The recent and worst tables, and the event_id box a selected row fills in."""
    box = f"explain_event_{name}"
    recent, worst = st.tabs(["Recent predictions", "Worst errors"])
    with recent:
        selected = prediction_table(
            explain_data.predictions(name, start, end, version), f"explain_recent_{name}"
        )
    with worst:
        errors = explain_data.predictions(name, start, end, version, order="worst")
        if errors.empty:
            st.caption("No labelled wrong predictions in this range.")
            chosen = None
        else:
            chosen = prediction_table(errors, f"explain_worst_{name}")
    # A new selection in either table fills the box once; an id typed there afterwards stays.
    for table, picked in (("recent", selected), ("worst", chosen)):
        seen = f"{box}_{table}_seen"
        if picked is not None and st.session_state.get(seen) != picked:
            st.session_state[seen] = picked
            st.session_state[box] = picked
    value = st.text_input(
        "Event id",
        key=box,
        placeholder="Pick a row above or paste an event_id",
        help="The prediction's event_id; it is explained now (and stored) if it is not yet",
    )
    return str(value or "").strip()


def value_table(found: dict[str, Any]) -> pd.DataFrame:
    """The prediction's features: value and attribution, largest |attribution| first."""
    attributions = found.get("attributions") or {}
    features = found.get("features") or {}
    names = list(dict.fromkeys([*attributions, *features]))
    frame = pd.DataFrame(
        {
            "feature": names,
            "value": [shap_figures.value_text(features.get(f)) for f in names],
            "attribution": [attributions.get(f) for f in names],
        }
    )
    frame["attribution"] = pd.to_numeric(frame["attribution"], errors="coerce")
    order = frame["attribution"].abs().fillna(-1.0)
    return frame.loc[order.sort_values(ascending=False, kind="stable").index].reset_index(drop=True)


def one_prediction(name: str, version: str | None, start: datetime, end: datetime) -> None:
    """Pick a prediction and see its waterfall and feature values."""
    st.subheader("One prediction")
    event_id = pick_event(name, version, start, end)
    if not event_id:
        st.caption("Pick a prediction to see which features pushed its output up or down.")
        return
    try:
        found = explain_data.explanation(name, event_id)
    except explain_data.ACTION_ERRORS as exc:
        st.warning(fmt.markdown_text(exc))
        return
    hidden = auth.hidden_features(name)
    found = mask_explanation(found, hidden)  # the waterfall's labels and the value table
    units = shap_figures.units_label(str(found.get("units")))
    cols = st.columns(4)
    cols[0].metric("Output f(x)", f"{found['output']:.4g}", help=f"In {units}", border=True)
    cols[1].metric(
        "Base value E[f(x)]",
        f"{found['base_value']:.4g}",
        help="The average output over the background data",
        border=True,
    )
    total = sum(float(v) for v in (found.get("attributions") or {}).values())
    cols[2].metric("Sum of attributions", f"{total:+.4g}", border=True)
    explained = found.get("explained_class")
    cols[3].metric(
        "Explained class", fmt.MISSING if explained is None else str(explained), border=True
    )
    how = "computed now and stored" if found.get("computed") else "stored"
    st.caption(
        f"Event {fmt.markdown_text(event_id)}, version {fmt.markdown_text(found['version'])}: "
        f"explanation {how}; values in {units}. Red bars push the output up, blue bars down."
        + pii_view.hidden_caption(hidden)
    )
    left, right = st.columns([3, 2])
    show(left, shap_figures.waterfall(found, found.get("features") or {}), "explain_waterfall")
    right.dataframe(
        value_table(found),
        hide_index=True,
        column_config={"attribution": SCORE},
        placeholder=fmt.MISSING,
        key="explain_values",
    )


def explain_submitted(name: str, start: datetime, end: datetime, version: str | None) -> None:
    """The "Explain more" button's callback."""
    try:
        done = explain_data.explain_more(name, start, end, version)
    except explain_data.ACTION_ERRORS as exc:
        say(False, f"Nothing explained: {exc}")
        return
    if done:
        say(True, f"{done:,} more predictions of this range explained and stored.")
    else:
        say(True, "Every prediction of this range that can be explained already is.")


def explain_button(name: str, version: str | None, start: datetime, end: datetime) -> None:
    """Explain up to EXPLAIN_MORE predictions of the range now."""
    st.button(
        f"Explain up to {explain_data.EXPLAIN_MORE} more predictions of this range",
        key=f"explain_more_{name}",
        on_click=explain_submitted,
        args=(name, start, end, version),
        icon=":material/psychology:",
    )


def global_section(
    name: str, version: str | None, start: datetime, end: datetime
) -> list[str] | None:
    """Mean |SHAP| per feature and the beeswarm; the importance order, None if none explained."""
    st.subheader("Global importance")
    flash()
    settings = data.runtime().settings
    job = (
        f"The explanation job explains {fmt.percent(settings.explain_rate, ratio=True)} of the "
        f"predictions of the last {settings.explain_lookback_days:g} days (at most "
        f"{settings.explain_cap:,} a run, every {fmt.duration(settings.explain_interval_s)})."
    )
    count = explain_data.count_explained(name, start, end, version)
    if count == 0:
        st.info(f"No prediction of this range is explained yet. {job}", icon=":material/info:")
        explain_button(name, version, start, end)
        return None
    frame, units, _ = explain_data.importance(name, start, end, version)
    st.caption(f"{fmt.count(count)} explained predictions in this range. {job}")
    explain_button(name, version, start, end)
    order = [str(f) for f in frame["feature"]]
    left, right = st.columns(2)
    show(left, shap_figures.importance_bar(frame, units), "explain_importance")
    # A hidden feature keeps its points (its attributions) but loses its values and colour.
    hidden = auth.hidden_features(name)
    rows = mask_long_rows(explain_data.explained_rows(name, start, end, version), hidden)
    show(right, shap_figures.beeswarm(rows, order, units), "explain_beeswarm")
    if count > explain_data.BEESWARM_ROWS:
        st.caption(
            f"The beeswarm draws a fixed sample of {explain_data.BEESWARM_ROWS:,} of the "
            f"{fmt.count(count)} explained predictions."
        )
    if hidden:
        st.caption("In the beeswarm," + pii_view.hidden_caption(hidden))
    return order


def ndcg_tile(ndcg: pd.DataFrame, window: str) -> None:
    """The newest window's NDCG against the reference, flagged below the threshold."""
    values = ndcg.dropna(subset=["ndcg"]).sort_values("window_start")
    if values.empty:
        return
    latest = float(values["ndcg"].iloc[-1])
    drifted = latest < NDCG_THRESHOLD
    word = WINDOW_WORDS.get(window, window)
    st.metric(
        f"NDCG, newest {word}",
        f"{latest:.3f}",
        "attribution drift" if drifted else "same ranking",
        delta_color="red" if drifted else "green",
        delta_arrow="off",
        help=f"1 means the features rank as in the reference; below {NDCG_THRESHOLD:g} the "
        "model's reasons have moved",
        border=True,
    )


def drift_section(
    name: str, version: str | None, start: datetime, end: datetime, window: str
) -> None:
    """Attribution shares per window, NDCG against the reference, rank changes."""
    st.subheader("Attribution drift")
    try:
        result = explain_data.attribution_drift(name, start, end, window, version)
    except explain_data.ACTION_ERRORS as exc:
        st.warning(fmt.markdown_text(exc))
        return
    reference = result.get("reference")
    ndcg = result.get("ndcg")
    ndcg = ndcg if isinstance(ndcg, pd.DataFrame) else pd.DataFrame()
    if reference is None:
        st.info(
            "Attribution drift compares each window's feature ranking with the SHAP ranking "
            "of the drift reference: set a reference on the Drift page to see it.",
            icon=":material/info:",
        )
    else:
        ndcg_tile(ndcg, window)
    series = result.get("series")
    series = series if isinstance(series, pd.DataFrame) else pd.DataFrame()
    show(st, attribution_figures.attribution_shares(series, window), "explain_shares")
    if reference is None:
        return
    changes = result.get("changes")
    changes = changes if isinstance(changes, pd.DataFrame) else pd.DataFrame()
    left, right = st.columns(2)
    show(left, attribution_figures.ndcg_over_time(ndcg, NDCG_THRESHOLD, window), "explain_ndcg")
    show(right, attribution_figures.rank_changes_figure(changes), "explain_ranks")
    table = explain_data.rank_change_table(changes)
    if not table.empty:
        st.dataframe(
            table,
            hide_index=True,
            column_config={"reference_share": SHARE, "current_share": SHARE},
            placeholder=fmt.MISSING,
            key="explain_rank_table",
        )
        perf_data.download(st, table, f"{name}-attribution-ranks.csv", "explain_ranks_csv")


models = data.model_summaries()
if not models:
    getting_started.render(no_models=True)
    st.stop()
st.title("Explanations")
if explain_data.service() is None:
    st.info(explain_data.NO_SERVICE)
    st.stop()
model_name, chosen_version, chosen_range, chosen_window = drift_data.pickers(models, "explain")
model_summary = next(m for m in models if m["name"] == model_name)
if not explain_data.usable(model_name, chosen_version):
    st.info(
        explain_data.no_artifact_text(model_name, model_summary["versions"]),
        icon=":material/info:",
    )
    st.stop()
artifact_panel(model_name, chosen_version, model_summary["versions"])
page = drift_data.page_range(model_name, chosen_range, "explanations")
if page is None:
    st.stop()
_, range_start, range_end = page
st.caption(
    f"{fmt.markdown_text(chosen_range)}: {fmt.timestamp(range_start)} to {fmt.timestamp(range_end)}"
)
one_prediction(model_name, chosen_version, range_start, range_end)
if global_section(model_name, chosen_version, range_start, range_end) is not None:
    drift_section(model_name, chosen_version, range_start, range_end, chosen_window)
    explain_segment.segment_section(model_name, chosen_version, range_start, range_end)
