"""The Access & audit page's actions and tables: users, API tokens, the audit log, erasure.

Every action checks the admin role first (auth.require: a hidden control is not the only
guard), then calls the server's AccessService on the pages' service threads (its reads use
Store.cursor(), one cursor per thread), and leaves a message for the next run. Secrets never
reach a table: users carry no password hash, tokens only their public id, and a new token's
secret is kept in session_state only until the page has shown it once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from collectors.access import AccessService
from collectors.admin_api import ERASE_NOTE
from dashboard import auth, data
from dashboard import format as fmt
from monitoring.access import Action, Principal, parse_role
from storage.errors import StorageError

# What a refused action raises (AccessService: ValueError, LookupError, ConflictError;
# an unregistered model: UnknownModelError, a StorageError). Shown as a message, never raised.
ERRORS = (ValueError, LookupError, StorageError)
EVERY_MODEL = "every model"
NEVER = "never"
ROLES = ("viewer", "editor", "admin")
SCOPES = {
    "ingest": "ingest: send predictions and labels, register models",
    "read": "read: read monitoring data",
    "admin": "admin: everything, including users and tokens",
}
AUDIT_RANGES: dict[str, timedelta | None] = {
    "Last 24 h": timedelta(hours=24),
    "Last 7 days": timedelta(days=7),
    "Last 30 days": timedelta(days=30),
    "All": None,
}
AUDIT_LIMIT = 1000
ERASE_MODES = {
    "ids": "Event ids",
    "feature": "A feature value",
    "tag": "A tag value",
}
ERASE_CONFIRM = "I understand this deletes the subject's predictions, labels and explanations"
JUST_CREATED = "admin_just_created"  # (name, secret) between the create callback and the next run
USERS, TOKENS, ERASE = "admin_flash_users", "admin_flash_tokens", "admin_flash_erase"


def access() -> AccessService:
    """The server's AccessService (the page is only reachable inside `vigil serve`)."""
    service = data.runtime().access
    if service is None:
        raise data.NoRuntimeError("access control runs inside `vigil serve`")
    return service


def _who() -> Principal:
    """The admin acting (auth.require has let them through)."""
    return auth.current()


def _fail(slot: str, what: str, exc: BaseException) -> None:
    text = str(exc.args[0]) if isinstance(exc, LookupError) and exc.args else str(exc)
    data.say(slot, False, f"{what}: {text}")


def _times(values: list[datetime | None]) -> pd.Series:
    """Times as a UTC datetime column (missing ones NaT), for the tables' time format."""
    return pd.to_datetime(pd.Series(values, dtype=object), utc=True)


def _state(key: str) -> Any:
    return st.session_state.get(key)


# -- users ---------------------------------------------------------------------------------
def user_rows() -> pd.DataFrame:
    """Every user (never a password hash), by name."""
    users = data.on_service_thread(access().list_users)
    return pd.DataFrame(
        {
            "name": [u.name for u in users],
            "role": [u.role for u in users],
            "created": _times([u.created_at for u in users]),
            "last sign-in": _times([u.last_login_at for u in users]),
            "locked until": _times([u.locked_until for u in users]),
        }
    )


def _clear_passwords(*keys: str) -> None:
    """Passwords leave session_state after every submit, accepted or not."""
    for key in keys:
        st.session_state[key] = ""


def add_user() -> None:
    """The add-user form's submit callback."""
    if not auth.require(Action.ADMIN, slot=USERS):
        _clear_passwords("admin_add_password", "admin_add_password2")
        return
    name = str(_state("admin_add_name") or "").strip()
    password, again = str(_state("admin_add_password")), str(_state("admin_add_password2"))
    _clear_passwords("admin_add_password", "admin_add_password2")
    if password != again:
        data.say(USERS, False, "User not added: the two passwords differ.")
        return
    try:
        role = parse_role(str(_state("admin_add_role")))
        record = data.on_service_thread(
            access().add_user, name, role, password, _who(), auth.source()
        )
    except ERRORS as exc:
        _fail(USERS, "User not added", exc)
        return
    st.session_state["admin_add_name"] = ""
    data.say(USERS, True, f"User {record.name} added as {record.role}.")


def set_role() -> None:
    """The change-role form's submit callback."""
    if not auth.require(Action.ADMIN, slot=USERS):
        return
    name = str(_state("admin_pick_user") or "")
    who = _who()
    if who.kind == "user" and name == who.name:
        data.say(USERS, False, "Role not changed: another admin must change your own role.")
        return
    try:
        role = parse_role(str(_state("admin_role_new")))
        record = data.on_service_thread(access().set_role, name, role, who, auth.source())
    except ERRORS as exc:
        _fail(USERS, "Role not changed", exc)
        return
    data.say(USERS, True, f"{record.name} is now {record.role}.")


def set_password() -> None:
    """The reset-password form's submit callback; the user's sessions end."""
    keys = ("admin_reset_password", "admin_reset_password2")
    if not auth.require(Action.ADMIN, slot=USERS):
        _clear_passwords(*keys)
        return
    name = str(_state("admin_pick_user") or "")
    password, again = str(_state(keys[0])), str(_state(keys[1]))
    _clear_passwords(*keys)
    if password != again:
        data.say(USERS, False, "Password not changed: the two passwords differ.")
        return
    try:
        data.on_service_thread(access().set_password, name, password, _who(), auth.source())
    except ERRORS as exc:
        _fail(USERS, "Password not changed", exc)
        return
    data.say(USERS, True, f"Password of {name} changed; their sessions have ended.")


def remove_user() -> None:
    """The remove form's submit callback (needs its confirm box ticked)."""
    if not auth.require(Action.ADMIN, slot=USERS):
        return
    name = str(_state("admin_pick_user") or "")
    confirmed = bool(_state("admin_remove_confirm"))
    st.session_state["admin_remove_confirm"] = False
    who = _who()
    if not confirmed:
        data.say(USERS, False, f"User not removed: tick the box to confirm removing {name}.")
        return
    if who.kind == "user" and name == who.name:
        data.say(USERS, False, "User not removed: another admin must remove your own account.")
        return
    try:
        data.on_service_thread(access().remove_user, name, who, auth.source())
    except ERRORS as exc:
        _fail(USERS, "User not removed", exc)
        return
    data.say(USERS, True, f"User {name} removed; their sessions have ended.")


# -- tokens --------------------------------------------------------------------------------
def token_rows() -> tuple[pd.DataFrame, list[tuple[str, str, str]]]:
    """The tokens table (newest first) and the (id, name, scope) of the active ones."""
    tokens = data.on_service_thread(access().list_tokens)
    frame = pd.DataFrame(
        {
            "id": [t.id for t in tokens],
            "name": [t.name for t in tokens],
            "scope": [t.scope for t in tokens],
            "model": [t.model or EVERY_MODEL for t in tokens],
            "created": _times([t.created_at for t in tokens]),
            "by": [t.created_by or "—" for t in tokens],
            "last used": [
                f"{t.last_used_at.astimezone(UTC):%Y-%m-%d %H:%M:%S}" if t.last_used_at else NEVER
                for t in tokens
            ],
            "revoked": _times([t.revoked_at for t in tokens]),
        }
    )
    return frame, [(t.id, t.name, t.scope) for t in tokens if t.active]


def create_token() -> None:
    """The create-token form's submit callback; the secret is kept for one run."""
    st.session_state.pop(JUST_CREATED, None)
    if not auth.require(Action.ADMIN, slot=TOKENS):
        return
    name = str(_state("admin_token_name") or "")
    scope = str(_state("admin_token_scope"))
    model = _state("admin_token_model")
    model = None if model in (None, EVERY_MODEL) else str(model)
    try:
        secret, record = data.on_service_thread(
            access().create_token, name, scope, model, _who(), auth.source()
        )
    except ERRORS as exc:
        _fail(TOKENS, "Token not created", exc)
        return
    st.session_state["admin_token_name"] = ""
    st.session_state[JUST_CREATED] = (record.name, secret)
    where = f"model {record.model}" if record.model else "every model"
    data.say(TOKENS, True, f"Token {record.name} ({record.id}) created: {record.scope} on {where}.")


def take_secret() -> tuple[str, str] | None:
    """The new token's (name, secret), removed from session_state: it is shown once."""
    found = st.session_state.pop(JUST_CREATED, None)
    return found if isinstance(found, tuple) else None


def revoke_token(ident: str) -> None:
    """A Revoke button's callback."""
    st.session_state.pop(JUST_CREATED, None)
    if not auth.require(Action.ADMIN, slot=TOKENS):
        return
    try:
        record = data.on_service_thread(access().revoke_token, ident, _who(), auth.source())
    except ERRORS as exc:
        _fail(TOKENS, "Token not revoked", exc)
        return
    data.say(TOKENS, True, f"Token {record.name} ({record.id}) revoked: it is refused from now.")


# -- audit log -----------------------------------------------------------------------------
def audit_frame(
    range_label: str, actor: str, action: str, now: datetime | None = None
) -> pd.DataFrame:
    """Audit entries matching the filters, newest first, as the page shows them."""
    span = AUDIT_RANGES.get(range_label)
    start = None if span is None else (now or datetime.now(UTC)) - span
    raw = data.on_service_thread(
        access().audit_entries, start, None, actor.strip() or None, action.strip() or None,
        AUDIT_LIMIT,
    )  # fmt: skip
    frame = raw.rename(columns={"actor_kind": "kind"})
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    return frame[["at", "actor", "kind", "action", "target", "detail", "source", "outcome"]]


# -- erasure -------------------------------------------------------------------------------
def event_ids(text: str) -> list[str]:
    """Event ids from the text area: one a line (commas work too), blanks ignored."""
    return [part.strip() for line in text.splitlines() for part in line.split(",") if part.strip()]


def erased_text(model: str, counts: dict[str, int]) -> str:
    """What an erasure deleted, in words."""
    parts = [
        f"{fmt.count(counts['predictions'])} predictions",
        f"{fmt.count(counts['labels'])} labels",
        f"{fmt.count(counts['explanations'])} explanations",
        f"{fmt.count(counts['reference_rows'])} reference rows",
    ]
    if not counts["total"]:
        return f"Nothing of model {model} matched: no rows were deleted."
    return f"Erased from model {model}: {', '.join(parts)}."


def erase() -> None:
    """The erasure form's callback: needs the confirm box; clears the value afterwards."""
    model = str(_state("admin_erase_model") or "")
    if not auth.require(Action.ADMIN, model or None, slot=ERASE):
        return
    confirmed = bool(_state("admin_erase_confirm"))
    if not confirmed:
        data.say(ERASE, False, "Nothing erased: tick the box to confirm first.")
        return
    mode = _state("admin_erase_mode")
    ids: list[str] = []
    column: str | None = None
    value: str | None = None
    if mode == "ids":
        ids = event_ids(str(_state("admin_erase_ids") or ""))
        if not ids:
            data.say(ERASE, False, "Nothing erased: give at least one event id.")
            return
    elif mode == "feature":
        column, value = str(_state("admin_erase_feature") or ""), _state("admin_erase_value")
    else:
        column = f"tag:{str(_state('admin_erase_tag') or '').strip()}"
        value = _state("admin_erase_value")
    try:
        erased = data.on_service_thread(
            access().erase, model, _who(), auth.source(), ids, column, value
        )
    except ERRORS as exc:
        _fail(ERASE, "Nothing erased", exc)
        return
    st.session_state["admin_erase_confirm"] = False
    st.session_state["admin_erase_ids"] = ""
    st.session_state["admin_erase_value"] = ""
    st.cache_data.clear()  # the other pages' cached counts include the erased rows
    note = f" {ERASE_NOTE}" if erased.total else ""
    data.say(ERASE, True, erased_text(model, erased.as_dict()) + note)
