"""The Alerts page's channel editor: add or delete channels stored in the database.

A channel from the dashboard is checked exactly as a config-file one (collectors.
alert_settings.channel_from_table), including the allow-list of destination hosts. Secrets
are never typed into the page: the form asks for the name of the environment variable (or
secret file) that holds the SMTP password or the webhook signing secret.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

import streamlit as st

from collectors.alert_settings import AlertSettingsError, channel_from_table
from dashboard import alert_data, auth, data
from monitoring.access import Action
from storage import alert_definitions as store_channels

KINDS = ("webhook", "slack", "email")
SLOT = "alerts_flash_channel"  # auth.require leaves its refusals here too


def saved_names() -> set[str]:
    """Names of the channels stored from the dashboard."""
    with data.connection() as con:
        return set(store_channels.list_channels(con))


def table_from_form(state: Any) -> dict[str, Any]:
    """The channel's TOML table from the form's widgets (empty fields left out)."""
    kind = state["alerts_channel_type"]
    table: dict[str, Any] = {"type": kind}
    if kind == "email":
        table |= {
            "host": state["alerts_channel_host"].strip(),
            "port": int(state["alerts_channel_port"]),
            "security": state["alerts_channel_security"],
            "sender": state["alerts_channel_sender"].strip(),
            "recipients": [
                r.strip() for r in state["alerts_channel_recipients"].split(",") if r.strip()
            ],
        }
        if state["alerts_channel_username"].strip():
            table["username"] = state["alerts_channel_username"].strip()
        if state["alerts_channel_secret_env"].strip():
            table["password_env"] = state["alerts_channel_secret_env"].strip()
    else:
        table["url"] = state["alerts_channel_url"].strip()
        if state["alerts_channel_secret_env"].strip():
            table["secret_env"] = state["alerts_channel_secret_env"].strip()
    return table


def check_and_save(name: str, table: dict[str, Any], by: str | None = None) -> None:
    """Check a channel as the config file would, then store it (ValueError names the fault)."""
    service = alert_data.service()
    if not name:
        raise ValueError("name is required")
    if name in service.settings.channels:
        raise ValueError(f"{name!r} is a config-file channel: change it in the config file")
    try:
        channel_from_table(name, table, os.environ, service.settings.allowed_hosts)
    except AlertSettingsError as exc:
        raise ValueError(str(exc)) from None
    at = datetime.now(UTC)
    service.ingest.writer.run(lambda con: store_channels.save_channel(con, name, table, by, at))
    alert_data.clear()


def delete(name: str) -> bool:
    """Delete a dashboard channel; rules naming it are skipped until it is back."""
    done = alert_data.service().ingest.writer.run(
        lambda con: store_channels.delete_channel(con, name)
    )
    alert_data.clear()
    return done


def _save() -> None:
    """The channel form's submit callback (admins: a channel sends data out of Vigil)."""
    if not auth.require(Action.ADMIN, slot=SLOT):
        return
    state = st.session_state
    name = state["alerts_channel_name"].strip()
    try:
        table = table_from_form(state)
        check_and_save(name, table, by=auth.current().title)
    except ValueError as exc:
        data.say(SLOT, False, f"Channel not saved: {exc}")
        return
    # The type only: URLs and hosts can hold tokens, and secrets never reach the page.
    auth.audit("channel.save", name, {"type": table["type"]})
    data.say(SLOT, True, f"Channel {name} saved.")


def _delete(name: str) -> None:
    """A channel's Delete button callback (admins)."""
    if not auth.require(Action.ADMIN, slot=SLOT):
        return
    done = delete(name)
    if done:
        auth.audit("channel.delete", name)
    data.say(SLOT, done, f"Channel {name} {'deleted' if done else 'was already gone'}.")


def flash() -> None:
    """Show, once, the message a channel action left."""
    data.flash(SLOT)


def channel_editor() -> None:
    """Delete buttons for dashboard channels and the form that adds one."""
    flash()
    for name in sorted(saved_names()):
        text, button = st.columns([3, 1], vertical_alignment="center")
        text.text(f"{name} (added here)")
        button.button("Delete", key=f"alerts_channel_delete_{name}", on_click=_delete, args=(name,))
    with st.form("alerts_channel_form", clear_on_submit=False):
        st.markdown("**New dashboard channel** (saving an existing name replaces it)")
        left, right = st.columns(2)
        left.text_input("Name", key="alerts_channel_name", placeholder="team-hook")
        right.selectbox("Type", KINDS, key="alerts_channel_type")
        st.text_input(
            "Webhook URL (webhook, slack)", key="alerts_channel_url", placeholder="https://"
        )
        host, port, security = st.columns([3, 1, 2])
        host.text_input("SMTP host (email)", key="alerts_channel_host")
        port.number_input(
            "Port", min_value=1, max_value=65535, value=587, key="alerts_channel_port"
        )
        security.selectbox("Security", ("starttls", "tls", "none"), key="alerts_channel_security")
        sender, recipients = st.columns(2)
        sender.text_input("Sender (email)", key="alerts_channel_sender")
        recipients.text_input("Recipients, comma-separated", key="alerts_channel_recipients")
        user, secret = st.columns(2)
        user.text_input("SMTP username", key="alerts_channel_username")
        secret.text_input(
            "Secret's environment variable",
            key="alerts_channel_secret_env",
            help="The server reads the SMTP password or the webhook signing secret from this "
            "variable; the secret itself is never stored or typed here.",
        )
        st.form_submit_button("Save channel", on_click=_save, key="alerts_channel_submit")
