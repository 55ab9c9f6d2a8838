"""The Alerts page's rules section: every rule, and for editors the Delete buttons of
dashboard rules and the rule editor (saved only when the rule parses)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import alert_data, auth
from dashboard.alert_widgets import flash, say, slot, table
from monitoring.access import Action
from monitoring.alert_catalog import METRICS
from monitoring.alert_rules import COMPARISONS, DEFAULT_WINDOW, SEVERITIES, WINDOWS

EVERY_MODEL = "Every model"


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
    """The rule editor's submit callback (editors and admins)."""
    if not auth.require(Action.EDIT, slot=slot("rule")):
        return
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
        rule, replaced = alert_data.save_rule(name, spec, auth.current().title)
    except ValueError as exc:
        say("rule", False, f"Rule not saved: {exc}")
        return
    detail = {"metric": spec.get("metric"), "condition": rule.condition, "replaced": replaced}
    auth.audit("rule.save", rule.name, detail | {"model": spec.get("model")})
    say("rule", True, f"Rule {rule.name} {'replaced' if replaced else 'saved'}: {rule.condition}.")


def delete_rule(name: str) -> None:
    """A Delete button's callback (editors and admins)."""
    if not auth.require(Action.EDIT, slot=slot("rules")):
        return
    done = alert_data.delete_rule(name)
    if done:
        auth.audit("rule.delete", name)
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
    """Every rule; for editors, the delete buttons of dashboard rules and the editor."""
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
    if not auth.allowed(Action.EDIT):
        flash("rule")  # a refusal for someone who does not see the editor
        st.caption("Editors and admins can add, change and delete dashboard rules here.")
        return
    for entry in (e for e in entries if e.source == "dashboard"):
        text, button = st.columns([6, 1], vertical_alignment="center")
        text.text(f"{entry.name} (dashboard rule)")
        button.button(
            "Delete", key=f"alerts_delete_{entry.name}", on_click=delete_rule, args=(entry.name,)
        )
    rule_form()
