"""Alerts: what is pending or firing now, the history, silences, the delivery log, and the
rules and channels."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import alert_channels, alert_data, alert_figures, alert_silences, data, perf_data
from dashboard import format as fmt
from monitoring.alert_catalog import METRICS
from monitoring.alert_rules import COMPARISONS, DEFAULT_WINDOW, SEVERITIES, WINDOWS
from monitoring.notifiers import DeliveryError

NO_ALERTING = (
    "Alerting runs inside `vigil serve`: the server evaluates the rules and sends the "
    "notifications. Open the dashboard at the address `vigil serve` prints to see alerts here."
)
ANY = "Any"
EVERY_MODEL = "Every model"
TIME = st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss", timezone="UTC")


def show(container: Any, figure: Any, key: str) -> None:
    """A Plotly chart with its own template (theme=None keeps plotly_white)."""
    container.plotly_chart(figure, theme=None, config={"displaylogo": False}, key=key)


def table(frame: pd.DataFrame, key: str, file_name: str, shown: pd.DataFrame | None = None) -> None:
    """A table (user text stays text in st.dataframe) and its CSV download of `frame`."""
    columns = {c: TIME for c in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[c])}
    st.dataframe(
        frame if shown is None else shown,
        hide_index=True,
        column_config=columns,  # type: ignore[arg-type]
        placeholder=fmt.MISSING,
        key=key,
    )
    perf_data.download(st, frame, file_name, f"{key}_csv")


def say(slot: str, ok: bool, text: str) -> None:
    """Keep a message for the next run of the page (callbacks run before the script)."""
    st.session_state[f"alerts_flash_{slot}"] = (ok, text)


def flash(slot: str) -> None:
    """Show, once, the message a callback left."""
    message = st.session_state.pop(f"alerts_flash_{slot}", None)
    if message is not None:
        ok, text = message
        (st.success if ok else st.error)(fmt.markdown_text(text))


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
    """The silence form's submit callback."""
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
    say("silence", True, f"Silence {silence_id} created; it ends {fmt.timestamp(ends_at)}.")


def expire(silence_id: str) -> None:
    """An Expire button's callback."""
    done = alert_silences.expire_silence(silence_id)
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
    """Active and expired silences, an Expire button per active one, and the form."""
    active, expired = alert_data.silences(now)
    st.markdown("**Active silences**")
    flash("expire")
    if active.empty:
        st.caption("No silence is active.")
    else:
        table(active, "alerts_silences_active", "silences-active.csv")
        for row in active.itertuples(index=False):
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
    silence_form()


def delivery_log(start: datetime, end: datetime) -> None:
    """Delivery attempts in the history range, and notifications still queued."""
    st.markdown("**Deliveries** (in the range picked under History)")
    sent = alert_data.deliveries(start, end)
    table(sent, "alerts_deliveries", "alert-deliveries.csv", sent.replace({"model": {"": "host"}}))
    st.markdown("**Queued** (not delivered yet; failed sends retry with backoff)")
    waiting = alert_data.queued()
    table(waiting, "alerts_outbox", "alert-outbox.csv", waiting.replace({"model": {"": "host"}}))


def scope_text(metric: object) -> str:
    """What a rule without a model watches: the host (system metrics) or every model."""
    return "host" if METRICS.get(str(metric), ("model", ""))[0] == "system" else "every model"


def rule_rows(entries: list[alert_data.RuleEntry]) -> pd.DataFrame:
    """The rules table: one row per rule with its definition's main fields."""
    rows = []
    for entry in entries:
        spec = entry.table
        condition = spec.get("condition") or f"{spec.get('comparison')} {spec.get('threshold')}"
        rows.append(
            {
                "name": entry.name,
                "source": entry.source,
                "metric": spec.get("metric"),
                "condition": condition,
                "model": spec.get("model") or scope_text(spec.get("metric")),
                "version": spec.get("version"),
                "window": spec.get("window"),
                "for": str(spec.get("for") or "0"),
                "severity": spec.get("severity"),
                "labels": ", ".join(f"{k}={v}" for k, v in (spec.get("labels") or {}).items()),
                "channels": ", ".join(spec.get("channels") or []),
                "description": spec.get("description"),
                "runbook_url": spec.get("runbook_url"),
                "status": entry.problem or "evaluated",
            }
        )
    return pd.DataFrame(rows)


def save_rule() -> None:
    """The rule editor's submit callback."""
    state = st.session_state
    name = str(state["alerts_rule_name"])
    try:
        model = state["alerts_rule_model"]
        spec = alert_data.rule_table(
            metric=state["alerts_rule_metric"],
            comparison=state["alerts_rule_comparison"],
            threshold=state["alerts_rule_threshold"],
            model=None if model == EVERY_MODEL else model,
            version=state["alerts_rule_version"],
            window=state["alerts_rule_window"],
            for_=state["alerts_rule_for"],
            severity=state["alerts_rule_severity"],
            labels=state["alerts_rule_labels"],
            channels=list(state["alerts_rule_channels"]),
            description=state["alerts_rule_description"],
            runbook_url=state["alerts_rule_runbook"],
            include_provisional=bool(state["alerts_rule_provisional"]),
        )
        rule, replaced = alert_data.save_rule(name, spec)
    except ValueError as exc:
        say("rule", False, f"Rule not saved: {exc}")
        return
    say("rule", True, f"Rule {rule.name} {'replaced' if replaced else 'saved'}: {rule.condition}.")


def delete_rule(name: str) -> None:
    """A Delete button's callback."""
    done = alert_data.delete_rule(name)
    say("rules", done, f"Rule {name} {'deleted' if done else 'was already gone'}.")


def rule_form() -> None:
    """The editor: every field of a rule; saved only when the rule parses."""
    metrics = sorted(METRICS)
    with st.form("alerts_rule_form"):
        st.markdown("**New or changed dashboard rule** (saving an existing name replaces it)")
        left, middle, right = st.columns([2, 2, 1])
        left.text_input("Name", key="alerts_rule_name", placeholder="latency_p95_high")
        middle.selectbox(
            "Metric",
            metrics,
            key="alerts_rule_metric",
            format_func=lambda m: f"{m} ({METRICS[m][1]})",
        )
        right.selectbox("Severity", SEVERITIES, index=1, key="alerts_rule_severity")
        left, middle, right = st.columns(3)
        left.selectbox("Comparison", list(COMPARISONS), key="alerts_rule_comparison")
        middle.number_input("Threshold", value=0.0, format="%g", key="alerts_rule_threshold")
        right.selectbox(
            "Window",
            list(WINDOWS),
            index=list(WINDOWS).index(DEFAULT_WINDOW),
            key="alerts_rule_window",
        )
        left, middle, right = st.columns(3)
        left.selectbox(
            "Model",
            [EVERY_MODEL, *alert_data.model_names()],
            key="alerts_rule_model",
            help="Every model (model metrics) or the host (system metrics)",
        )
        middle.text_input("Version", key="alerts_rule_version", placeholder="every version")
        right.text_input(
            "For",
            key="alerts_rule_for",
            placeholder="0, 5m, 1h",
            help="How long the condition must hold before the alert fires",
        )
        st.text_input("Labels", key="alerts_rule_labels", placeholder="team=risk")
        st.multiselect("Channels", list(alert_data.channels()), key="alerts_rule_channels")
        st.text_area("Description", key="alerts_rule_description", height=68)
        st.text_input("Runbook URL", key="alerts_rule_runbook", placeholder="https://")
        st.checkbox(
            "Include provisional windows",
            key="alerts_rule_provisional",
            help="Judge label-based metrics while labels are still arriving",
        )
        st.form_submit_button(
            "Save rule", on_click=save_rule, type="primary", key="alerts_rule_submit"
        )
    flash("rule")


def rules_section() -> None:
    """Every rule, the delete buttons of dashboard rules, and the editor."""
    entries = alert_data.rule_entries()
    frame = rule_rows(entries)
    if frame.empty:
        st.caption("No alert rules yet: add one below or under [rules] in the config file.")
    else:
        table(frame, "alerts_rules", "alert-rules.csv")
    st.caption(
        "Rules from the config file are read-only here: change them under `[rules]` in the "
        "config file and restart the server. Rules saved from this page can be deleted."
    )
    flash("rules")
    for entry in (e for e in entries if e.source == "dashboard"):
        text, button = st.columns([6, 1], vertical_alignment="center")
        text.text(f"{entry.name} (dashboard rule)")
        button.button(
            "Delete", key=f"alerts_delete_{entry.name}", on_click=delete_rule, args=(entry.name,)
        )
    rule_form()


def channels_section() -> None:
    """Channels, each with a button that sends a test notification, and the channel editor."""
    st.markdown("**Channels**")
    frame = alert_data.channel_rows()
    if frame.empty:
        st.caption(
            "No channels yet: add them under `[channels.<name>]` in the config file or below."
        )
        alert_channels.channel_editor()
        return
    table(frame, "alerts_channels", "alert-channels.csv")
    for name in frame["name"]:
        text, button = st.columns([3, 1], vertical_alignment="center")
        text.text(str(name))
        if button.button("Send test notification", key=f"alerts_test_{name}"):
            try:
                with st.spinner("Sending..."):
                    alert_data.send_test(str(name))
            except DeliveryError as exc:
                st.error(fmt.markdown_text(f"Test to {name} failed: {exc}"))
            else:
                st.success(fmt.markdown_text(f"Test notification sent to {name}."))
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
