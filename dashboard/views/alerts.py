"""Alerts: what is pending or firing now, the history, silences, the delivery log, and the
rules and channels."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import alert_channels, alert_data, alert_figures, alert_silences, auth, data
from dashboard import format as fmt
from dashboard.alert_rules_form import rules_section
from dashboard.alert_widgets import flash, say, slot, table
from monitoring.access import Action
from monitoring.notifiers import DeliveryError

NO_ALERTING = (
    "Alerting runs inside `vigil serve`: the server evaluates the rules and sends the "
    "notifications. Open the dashboard at the address `vigil serve` prints to see alerts here."
)
ANY = "Any"


def show(container: Any, figure: Any, key: str) -> None:
    """A Plotly chart with its own template (theme=None keeps plotly_white)."""
    container.plotly_chart(figure, theme=None, config={"displaylogo": False}, key=key)


@st.fragment(run_every=data.runtime().settings.dashboard_refresh_s)
def live() -> None:
    """The refreshing part: counts and the alerts that are pending or firing now."""
    now = alert_data.now()
    alerts = alert_data.current_alerts(now)
    tiles = st.columns(3)
    tiles[0].metric("Firing", fmt.count((alerts["state"] == "firing").sum()), border=True)
    tiles[1].metric("Pending", fmt.count((alerts["state"] == "pending").sum()), border=True)
    tiles[2].metric(
        "Silenced",
        fmt.count(alerts["silenced"].astype(bool).sum()),
        help="Pending or firing alerts an active silence covers: they send nothing",
        border=True,
    )
    st.caption(f"As of {fmt.timestamp(now)}; refreshes by itself.")
    if alerts.empty:
        st.info("No alert is pending or firing.", icon=":material/check_circle:")
        return
    shown = pd.DataFrame(
        {
            "rule": alerts["rule"],
            "model": alerts["model"].replace("", "host"),
            "state": alerts["state"],
            "severity": alerts["severity"],
            "metric": alerts["metric"],
            "value vs threshold": [
                alert_data.condition_text(v, c, t)
                for v, c, t in zip(
                    alerts["value"], alerts["comparison"], alerts["threshold"], strict=True
                )
            ],
            "since": alerts["since"],
            "silenced": alerts["silenced"].astype(bool),
        }
    )
    table(alerts, "alerts_current", "alerts-now.csv", shown)


def history(now: datetime) -> tuple[datetime, datetime]:
    """The timeline and the state changes of the chosen range; returns the range."""
    label = st.segmented_control(
        "Range",
        list(alert_data.HISTORY_RANGES),
        default="Last 24 h",
        required=True,
        key="alerts_range",
    )
    start, end = alert_data.history_range(str(label), now)
    changes = alert_data.transitions(start, end)
    current = alert_data.current_alerts(now)
    intervals = alert_figures.timeline_intervals(changes, start, now, current)
    show(st, alert_figures.alert_timeline(intervals, start, now), "alerts_timeline")
    if len(changes) >= alert_data.HISTORY_LIMIT:
        st.caption(f"The newest {alert_data.HISTORY_LIMIT:,} changes; pick a shorter range.")
    st.markdown("**State changes**")
    shown = changes.assign(model=changes["model"].replace("", "host"))
    table(changes, "alerts_transitions", "alert-transitions.csv", shown)
    return start, end


def create_silence() -> None:
    """The silence form's submit callback (editors and admins)."""
    if not auth.require(Action.EDIT, slot=slot("silence")):
        return
    state = st.session_state
    try:
        ends_at = alert_silences.silence_end(
            state["alerts_sil_duration"],
            state["alerts_sil_date"],
            state["alerts_sil_time"],
            alert_data.now(),
        )
        labels = alert_data.parse_labels(state["alerts_sil_labels"])
        rule, model = state["alerts_sil_rule"], state["alerts_sil_model"]
        silence_id = alert_silences.create_silence(
            None if rule == ANY else rule,
            None if model == ANY else model,
            labels,
            ends_at,
            state["alerts_sil_author"],
            state["alerts_sil_comment"],
        )
    except ValueError as exc:
        say("silence", False, f"Silence not created: {exc}")
        return
    detail = {"rule": rule, "model": model, "labels": labels, "ends_at": ends_at.isoformat()}
    auth.audit("silence.create", silence_id, detail)
    say("silence", True, f"Silence {silence_id} created; it ends {fmt.timestamp(ends_at)}.")


def expire(silence_id: str) -> None:
    """An Expire button's callback (editors and admins)."""
    if not auth.require(Action.EDIT, slot=slot("expire")):
        return
    done = alert_silences.expire_silence(silence_id)
    if done:
        auth.audit("silence.expire", silence_id)
    say("expire", done, f"Silence {silence_id} {'expired' if done else 'was already over'}.")


def silence_form() -> None:
    """Create a silence: matchers, how long, who and why."""
    with st.form("alerts_silence_form"):
        st.markdown("**New silence**")
        left, right = st.columns(2)
        left.selectbox("Rule", [ANY, *alert_data.rules()], key="alerts_sil_rule")
        right.selectbox("Model", [ANY, *alert_data.model_names()], key="alerts_sil_model")
        st.text_input(
            "Labels",
            key="alerts_sil_labels",
            placeholder="team=risk, tier=1",
            help="Match rules that carry all of these labels; leave empty for none",
        )
        left, middle, right = st.columns(3)
        left.selectbox(
            "Duration",
            [*alert_silences.SILENCE_DURATIONS, alert_silences.CUSTOM_END],
            key="alerts_sil_duration",
        )
        middle.date_input("Custom end date (UTC)", value=None, key="alerts_sil_date")
        right.time_input("Custom end time (UTC)", value=None, key="alerts_sil_time")
        st.text_input("Author", key="alerts_sil_author", help="Who silences (required)")
        st.text_area("Comment", key="alerts_sil_comment", help="Why (required)", height=68)
        st.form_submit_button(
            "Create silence", on_click=create_silence, type="primary", key="alerts_sil_submit"
        )
    flash("silence")


def silences_section(now: datetime) -> None:
    """Active and expired silences; for editors an Expire button per active one and the form."""
    editor = auth.allowed(Action.EDIT)
    active, expired = alert_data.silences(now)
    st.markdown("**Active silences**")
    flash("expire")
    if active.empty:
        st.caption("No silence is active.")
    else:
        table(active, "alerts_silences_active", "silences-active.csv")
        for row in active.itertuples(index=False) if editor else ():
            text, button = st.columns([6, 1], vertical_alignment="center")
            text.text(
                f"{row.id}: rule {row.rule}, model {row.model}, until {fmt.timestamp(row.ends_at)}"
            )
            button.button("Expire", key=f"alerts_expire_{row.id}", on_click=expire, args=(row.id,))
    st.markdown("**Expired silences**")
    if expired.empty:
        st.caption("No silence has ended yet.")
    else:
        table(expired, "alerts_silences_expired", "silences-expired.csv")
    if editor:
        silence_form()
    else:
        flash("silence")
        st.caption("Editors and admins can create and expire silences here.")


def delivery_log(start: datetime, end: datetime) -> None:
    """Delivery attempts in the history range, and notifications still queued."""
    st.markdown("**Deliveries** (in the range picked under History)")
    sent = alert_data.deliveries(start, end)
    table(sent, "alerts_deliveries", "alert-deliveries.csv", sent.replace({"model": {"": "host"}}))
    st.markdown("**Queued** (not delivered yet; failed sends retry with backoff)")
    waiting = alert_data.queued()
    table(waiting, "alerts_outbox", "alert-outbox.csv", waiting.replace({"model": {"": "host"}}))


def send_test(name: str) -> None:
    """Send a test notification (admins: it reaches people outside Vigil)."""
    if not auth.require(Action.ADMIN):
        return
    try:
        with st.spinner("Sending..."):
            alert_data.send_test(name)
    except DeliveryError as exc:
        st.error(fmt.markdown_text(f"Test to {name} failed: {exc}"))
    else:
        st.success(fmt.markdown_text(f"Test notification sent to {name}."))


def channels_section() -> None:
    """Channels; for admins a button per channel that sends a test, and the channel editor."""
    st.markdown("**Channels**")
    admin = auth.allowed(Action.ADMIN)
    frame = alert_data.channel_rows()
    if frame.empty:
        st.caption(
            "No channels yet: add them under `[channels.<name>]` in the config file or below."
        )
    else:
        table(frame, "alerts_channels", "alert-channels.csv")
    if not admin:
        alert_channels.flash()
        st.caption("Admins can send test notifications and add or delete channels here.")
        return
    for name in frame["name"] if not frame.empty else ():
        text, button = st.columns([3, 1], vertical_alignment="center")
        text.text(str(name))
        if button.button("Send test notification", key=f"alerts_test_{name}"):
            send_test(str(name))
    alert_channels.channel_editor()


st.title("Alerts")
if alert_data.alerting() is None:
    st.info(NO_ALERTING, icon=":material/notifications_off:")
    st.stop()
live()
history_tab, silences_tab, log_tab, rules_tab = st.tabs(
    ["History", "Silences", "Delivery log", "Rules and channels"]
)
moment = alert_data.now()
with history_tab:
    history_start, history_end = history(moment)
with silences_tab:
    silences_section(moment)
with log_tab:
    delivery_log(history_start, history_end)
with rules_tab:
    rules_section()
    channels_section()
