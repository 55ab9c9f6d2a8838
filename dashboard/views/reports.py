"""Reports: build a stakeholder report of a model and range (HTML, PDF, CSV or Parquet),
the scheduled reports of the config file and the log of their sends.

PII: the report masks PII features' values for viewers; the Parquet export (raw data) is for
editors and admins, without the PII columns unless an admin ticks "Include PII columns".
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import streamlit as st

from collectors.report_pdf import PdfUnavailable
from dashboard import auth, data
from dashboard import format as fmt
from dashboard import report_page_data as reports
from dashboard.views import getting_started
from monitoring.access import Action

TIME = st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm", timezone="UTC")
PREVIEW_HEIGHT = 900


def pickers(models: list[dict[str, Any]]) -> tuple[str, str | None, object, str, str]:
    """Model, version (None for all), the picked days, format and paper."""
    names = [m["name"] for m in models]
    top = st.columns([3, 3, 5], vertical_alignment="bottom")
    name = str(top[0].selectbox("Model", names, key="reports_model"))
    summary = next(m for m in models if m["name"] == name)
    choice = top[1].selectbox(
        "Version", [data.ALL_VERSIONS, *summary["versions"]], key=f"reports_version_{name}"
    )
    days = top[2].date_input(
        "From and to (UTC days)",
        value=reports.default_days(summary),
        key=f"reports_days_{name}",
        help="The report covers whole days in UTC, the last one included; it compares them "
        "with the period of the same length just before.",
    )
    bottom = st.columns([5, 3, 3], vertical_alignment="bottom")
    # Parquet is raw data: offered to those who may export it (editors and admins).
    offered = [
        label
        for label, kind in reports.FORMATS.items()
        if kind != "parquet" or auth.allowed(Action.EDIT, name)
    ]
    label = bottom[0].segmented_control(
        "Format", offered, default="HTML", required=True, key="reports_format"
    )
    data_format = reports.FORMATS[str(label)]
    paper = bottom[1].segmented_control(
        "Paper",
        list(reports.PAPERS),
        default="A4",
        required=True,
        key="reports_paper",
        disabled=data_format != "pdf",
        help="The PDF's paper size",
    )
    version = None if choice == data.ALL_VERSIONS else str(choice)
    return name, version, days, data_format, reports.PAPERS[str(paper)]


def range_caption(name: str, version: str | None, start: datetime, end: datetime) -> None:
    """The range in UTC and how many predictions it holds."""
    found = data.kpis(name, start, end, version)
    count = int(found.get("predictions") or 0)
    st.caption(
        f"{fmt.timestamp(start)} to {fmt.timestamp(end)}: {fmt.count(count)} predictions"
        f"{'' if version is None else ' of version ' + fmt.markdown_text(version)}."
    )


def pii_choice(name: str, data_format: str) -> tuple[bool, frozenset[str]]:
    """Whether PII columns go into a Parquet export (an admin's tick), and what is hidden."""
    pii = data.runtime().settings.model(name).pii
    if data_format != "parquet":
        return False, auth.hidden_features(name)
    if not pii:
        return False, frozenset()
    names = ", ".join(fmt.markdown_text(f) for f in sorted(pii))
    if not auth.allowed(Action.ADMIN, name):
        st.caption(f"The PII features ({names}) are left out: only admins may export PII.")
        return False, pii
    with_pii = st.checkbox(
        f"Include PII columns ({names})",
        key="reports_include_pii",
        help="Features marked pii = true are left out of exports unless an admin asks; "
        "the export is recorded in the audit log either way",
    )
    return with_pii, frozenset() if with_pii else pii


def allowed_build(name: str, data_format: str, with_pii: bool) -> bool:
    """Check the export on the server side too (a forged widget event gets refused here)."""
    if data_format == "parquet" and not auth.require(Action.EDIT, name):
        return False
    return not with_pii or auth.require(Action.ADMIN, name)


def build_section(models: list[dict[str, Any]]) -> None:
    """The pickers, the Build button, then the download (and an HTML preview)."""
    st.subheader("Build a report")
    name, version, days, data_format, paper = pickers(models)
    picked = reports.day_range(days)
    if picked is None:
        st.caption("Pick the last day of the range too.")
    else:
        range_caption(name, version, *picked)
    st.caption(f"{data_format.upper()}: {reports.FORMAT_HELP[data_format]}.")
    with_pii, hidden = pii_choice(name, data_format)
    clicked = st.button(
        "Build report",
        type="primary",
        key="reports_build",
        icon=":material/summarize:",
        disabled=picked is None,
    )
    if picked is None:
        return
    start, end = picked
    wanted = (
        name,
        version,
        start,
        end,
        data_format,
        paper if data_format == "pdf" else None,
        hidden,
    )
    if clicked and allowed_build(name, data_format, with_pii):
        with st.spinner(f"Building the {data_format.upper()} report…"):
            try:
                body = reports.build(name, start, end, version, data_format, paper, hidden)
            except PdfUnavailable as exc:
                st.error(fmt.markdown_text(exc), icon=":material/picture_as_pdf:")
            except reports.BUILD_ERRORS as exc:
                st.error(fmt.markdown_text(f"No report: {exc}"))
            else:
                st.session_state[reports.BUILT] = (wanted, body)
                detail = {"format": data_format, "include_pii": with_pii}
                auth.audit("report.export", name, detail)
    built = st.session_state.get(reports.BUILT)
    if built is None or built[0] != wanted:
        return
    body = built[1]
    st.download_button(
        f"Download {data_format.upper()} ({fmt.bytes_(len(body))})",
        body,
        file_name=reports.file_name(name, start, end, data_format),
        mime=reports.mime_type(data_format),
        key="reports_download",
        on_click="ignore",
        icon=":material/download:",
    )
    if data_format == "html":
        with st.expander("Preview", expanded=True, icon=":material/visibility:"):
            # The report is Vigil's own document (user text escaped by monitoring.report);
            # its charts need plotly.js, hence an iframe rather than st.html.
            st.iframe(
                body.decode("utf-8"),
                height=PREVIEW_HEIGHT,
                alt=f"Report of {name}",
            )


def schedules_section() -> None:
    """The [reports.<name>] tables of the config file, or how to add one."""
    st.subheader("Scheduled reports")
    table = reports.schedules()
    if table.empty:
        st.info(
            "No scheduled reports. Add a `[reports.<name>]` table to the config file that "
            "`vigil serve --config FILE` reads, naming an email channel of `[channels]`, and "
            "restart the server. For example:\n\n```toml\n" + reports.TOML_EXAMPLE + "```",
            icon=":material/schedule:",
        )
        return
    st.dataframe(
        table,
        hide_index=True,
        column_config={"last sent": TIME},
        placeholder=fmt.MISSING,
        key="reports_schedules",
    )


def sent_section() -> None:
    """The newest scheduled sends, failures with their error."""
    st.subheader("Sent")
    table = reports.sends()
    if table.empty:
        st.caption("No scheduled report has been sent yet.")
        return
    failed = int((table["status"] == "failed").sum())
    st.dataframe(
        table,
        hide_index=True,
        column_config={"sent_at": TIME, "range": st.column_config.TextColumn("range (UTC)")},
        placeholder=fmt.MISSING,
        key="reports_sent",
    )
    st.caption(
        f"The newest {fmt.count(len(table))} sends"
        + (f"; {fmt.count(failed)} failed (see error)." if failed else ".")
    )


models = data.model_summaries()
if not models:
    getting_started.render(no_models=True)
    st.stop()
st.title("Reports")
st.caption(
    "A stakeholder report of one model over a range: headline metrics against the period "
    "before, objectives, performance, latency, drift, data quality, alerts and explanations. "
    "The same report as `GET /api/v1/models/<model>/report` and `vigil report`."
)
build_section(models)
schedules_section()
sent_section()
