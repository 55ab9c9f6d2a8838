"""The Drift page's reference panel: which reference is in use, and the forms that upload a
file or take a range of logged predictions as the new one."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from collectors.reference_input import FILE_SUFFIXES
from dashboard import auth, data, drift_data
from dashboard import format as fmt
from monitoring.access import Action
from storage.references import ReferenceInfo

SLOT = "drift_flash"
EVERY_VERSION = "Every version"
RECOMPUTE = "The drift job recomputes the stored windows against it within a minute or two."
TIME = st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm", timezone="UTC")


def say(ok: bool, text: str) -> None:
    """Keep a message for the next run of the page."""
    data.say(SLOT, ok, text)


def flash() -> None:
    """Show, once, the message a callback left."""
    data.flash(SLOT)


def _scope(choice: object) -> str | None:
    return None if choice in (EVERY_VERSION, data.ALL_VERSIONS) else str(choice)


def audit_set(name: str, info: ReferenceInfo) -> None:
    """Record a new reference in the audit log."""
    detail = {"id": info.id, "source": info.source, "version": info.version, "rows": info.rows}
    auth.audit("reference.set", name, detail)


def upload_submitted(name: str) -> None:
    """The upload form's submit callback (editors and admins)."""
    if not auth.require(Action.EDIT, name, slot=SLOT):
        return
    upload = st.session_state.get(f"drift_ref_file_{name}")
    if upload is None:
        say(False, "Choose a file to upload first.")
        return
    version = _scope(st.session_state.get(f"drift_ref_scope_{name}"))
    try:
        info = drift_data.upload_reference(name, upload.getvalue(), upload.name, version)
    except drift_data.ACTION_ERRORS as exc:
        say(False, f"Reference not stored: {exc}")
        return
    audit_set(name, info)
    say(
        True, f"Reference {info.id} stored: {info.rows:,} rows from {info.description}. {RECOMPUTE}"
    )


def range_submitted(name: str) -> None:
    """The logged-predictions form's submit callback (editors and admins)."""
    if not auth.require(Action.EDIT, name, slot=SLOT):
        return
    days = st.session_state.get(f"drift_ref_dates_{name}")
    if not isinstance(days, tuple | list) or len(days) != 2:
        say(False, "Pick the first and the last day of the range.")
        return
    start = datetime.combine(days[0], time(), UTC)
    end = datetime.combine(days[1] + timedelta(days=1), time(), UTC)
    source = _scope(st.session_state.get(f"drift_ref_source_{name}"))
    version = _scope(st.session_state.get(f"drift_ref_range_scope_{name}"))
    try:
        info = drift_data.use_range(name, start, end, version, source)
    except drift_data.ACTION_ERRORS as exc:
        say(False, f"Reference not stored: {exc}")
        return
    audit_set(name, info)
    say(True, f"Reference {info.id} stored: {info.rows:,} logged predictions. {RECOMPUTE}")


def describe(reference: ReferenceInfo, version: str | None) -> str:
    """One markdown line about the reference in use; user text escaped."""
    text = fmt.markdown_text
    if reference.source == "upload":
        source = f"uploaded file {text(reference.description)}"
    else:
        source = f"logged {text(reference.description)}"
        if reference.range_version is not None:
            source += f" of version {text(reference.range_version)}"
    scope = "every version" if reference.version is None else f"version {text(reference.version)}"
    if version is not None and reference.version is None:
        scope += f" (version {text(version)} has no reference of its own)"
    return (
        f"**Reference {reference.id}**: {source}; {fmt.count(reference.rows)} rows, "
        f"{fmt.count(reference.labelled)} labelled; used for {scope}; "
        f"created {fmt.timestamp(reference.created_at)}."
    )


def upload_form(name: str, versions: list[str]) -> None:
    """Upload a file as the reference, for every version or one."""
    with st.form(f"drift_upload_form_{name}"):
        st.markdown("**Upload a file**")
        st.file_uploader(
            "Reference data",
            type=[suffix[1:] for suffix in FILE_SUFFIXES],
            key=f"drift_ref_file_{name}",
            help="One column per feature, named as the feature; optionally prediction and "
            "label. Parquet, CSV, JSON lines, a JSON list of records, or Arrow.",
        )
        st.selectbox("Use it for", [EVERY_VERSION, *versions], key=f"drift_ref_scope_{name}")
        st.form_submit_button(
            "Store reference",
            on_click=upload_submitted,
            args=(name,),
            type="primary",
            key=f"drift_ref_upload_{name}",
        )


def range_form(name: str, summary: dict[str, Any]) -> None:
    """Use a range of logged predictions (of every version or one) as the reference."""
    if not summary["predictions"]:
        st.caption("Once the model has logged predictions, a range of them can be the reference.")
        return
    first: date = summary["first_seen"].astimezone(UTC).date()
    last: date = summary["last_seen"].astimezone(UTC).date()
    versions = summary["versions"]
    with st.form(f"drift_range_form_{name}"):
        st.markdown("**Use logged predictions**")
        st.date_input(
            "From and to (UTC days)",
            value=(first, min(first + timedelta(days=6), last)),
            min_value=first,
            max_value=last,
            key=f"drift_ref_dates_{name}",
        )
        left, right = st.columns(2)
        left.selectbox(
            "Predictions of", [data.ALL_VERSIONS, *versions], key=f"drift_ref_source_{name}"
        )
        right.selectbox(
            "Use it for", [EVERY_VERSION, *versions], key=f"drift_ref_range_scope_{name}"
        )
        st.form_submit_button(
            "Use these predictions",
            on_click=range_submitted,
            args=(name,),
            type="primary",
            key=f"drift_ref_range_{name}",
        )


def reference_panel(
    name: str, version: str | None, summary: dict[str, Any]
) -> ReferenceInfo | None:
    """Which reference is in use, and an expander to change it; the reference or None."""
    st.subheader("Reference")
    flash()
    current = drift_data.reference(name, version)
    if current is None:
        st.info(drift_data.no_reference_text(name), icon=":material/info:")
    else:
        st.markdown(describe(current, version))
    editor = auth.allowed(Action.EDIT, name)
    label = "Change the reference" if current is not None else "Set the reference"
    if not editor:
        label = "Every reference"
    with st.expander(label, expanded=current is None and editor, icon=":material/dataset:"):
        if editor:
            left, right = st.columns(2)
            with left:
                upload_form(name, summary["versions"])
            with right:
                range_form(name, summary)
        else:
            st.caption("Editors and admins can upload a reference or use logged predictions.")
        known = drift_data.references(name)
        if known:
            st.markdown("**Every reference** (newest first)")
            frame = pd.DataFrame([r.as_dict() for r in known])
            frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
            frame.insert(1, "in use", [current is not None and r.id == current.id for r in known])
            columns = ["id", "in use", "version", "source", "description", "rows", "labelled"]
            st.dataframe(
                frame[[*columns, "created_at"]],
                hide_index=True,
                column_config={"created_at": TIME, "version": "for version"},
                placeholder="every",
                key=f"drift_references_{name}",
            )
    return current
