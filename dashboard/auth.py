"""Who is using the dashboard, and whether they may do what they ask.

Checked on the server at every run and in every action callback, so a hidden button is
not the only guard: a viewer's forged widget event is refused here too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

from collectors.access import SESSION_COOKIE
from dashboard import data
from monitoring.access import LOCAL, Action, Principal, allows, denial

UNMAPPED = "unmapped"  # signed in through SSO or a proxy, but no role is granted


def _headers() -> Mapping[str, str]:
    try:
        return st.context.headers
    except Exception:  # AppTest and bare runs have no request
        return {}


def _cookies() -> Mapping[str, str]:
    try:
        return st.context.cookies
    except Exception:
        return {}


def source() -> str:
    """The browser's address, for the audit log."""
    try:
        address = st.context.ip_address
    except Exception:
        return "-"
    # AppTest hands back a mock object, not an address.
    return address if isinstance(address, str) and address else "-"


def _oidc_principal() -> Principal | None:
    settings = data.runtime().settings
    oidc = settings.auth.oidc
    if oidc is None or not st.user.is_logged_in:
        return None
    email = str(st.user.get("email") or st.user.get("sub") or "")
    groups = st.user.get(oidc.group_claim) or []
    groups = [groups] if isinstance(groups, str) else [str(g) for g in groups]
    role = settings.auth.role_for(email, groups)
    return Principal(email, "oidc" if role else UNMAPPED, role=role)


def principal() -> Principal | None:
    """The person at the dashboard; None when nobody is signed in."""
    runtime = data.runtime()
    settings = runtime.settings
    if not settings.login_required:
        return LOCAL
    if settings.trusted_user_header:
        user = _headers().get(settings.trusted_user_header, "").strip()
        if user:
            role = settings.auth.role_for(user)
            return Principal(user, "proxy" if role else UNMAPPED, role=role)
    found = _oidc_principal()
    if found is not None:
        return found
    session = _cookies().get(SESSION_COOKIE)
    if not session or runtime.access is None:
        return None
    return data.on_service_thread(runtime.access.session_principal, session)


def current() -> Principal:
    """The signed-in person; stops the page when nobody is (the gate has run already)."""
    who = principal()
    if who is None or who.role is None:
        st.stop()
    return who


def allowed(action: Action, model: str | None = None) -> bool:
    """Whether the current person may do `action`, for showing or hiding controls."""
    who = principal()
    return who is not None and allows(who, action, model)


def require(action: Action, model: str | None = None, slot: str | None = None) -> bool:
    """Check an action in a callback: True if allowed; else say why (under `slot`) and audit."""
    who = principal()
    if who is not None and allows(who, action, model):
        return True
    message = "Sign in first." if who is None else f"Not allowed: {denial(who, action, model)}."
    if slot is not None:
        data.say(slot, False, message)
    else:
        st.error(message, icon=":material/block:")
    if who is not None and action is not Action.READ:
        audit("denied", model or "", {"action": action.value}, outcome="denied", by=who)
    return False


def audit(
    action: str,
    target: str,
    detail: dict[str, Any] | None = None,
    outcome: str = "ok",
    by: Principal | None = None,
) -> None:
    """Record a change made from the dashboard in the audit log."""
    access = data.runtime().access
    who = by or principal()
    if access is not None and who is not None:
        access.audit(who, action, target, detail or {}, source(), outcome)


def hidden_features(model: str) -> frozenset[str]:
    """The model's PII features the current person must not see (none for editors)."""
    who = principal()
    if who is not None and who.sees_pii:
        return frozenset()
    return data.runtime().settings.model(model).pii


def gate() -> Principal:
    """Let the signed-in through; show the sign-in choices to everyone else and stop."""
    who = principal()
    if who is not None and who.role is not None:
        return who
    settings = data.runtime().settings
    st.title("Sign in to Vigil")
    if who is not None:  # an SSO or proxy identity without a role
        st.warning(
            f"You are signed in as **{who.name}**, but no Vigil role is granted to you. "
            "Ask an admin to add you to `admins`, `editors` or `viewers` under `[auth]`.",
            icon=":material/lock:",
        )
        if who.kind == UNMAPPED and settings.auth.oidc is not None and st.user.is_logged_in:
            st.button("Sign out", on_click=st.logout)
        st.stop()
    st.write("This dashboard needs you to sign in.")
    st.link_button("Sign in with a Vigil account", "/login?next=/", type="primary")
    if settings.auth.oidc is not None:
        st.button(f"Sign in with {settings.auth.oidc.label}", on_click=st.login)
    st.stop()
    raise AssertionError("unreachable")  # st.stop raises


def sidebar(who: Principal) -> None:
    """Who is signed in, and the way out."""
    if who.kind == "local":
        return
    with st.sidebar:
        st.caption(f"Signed in as **{who.name}** · {who.role.label if who.role else '—'}")
        if who.kind == "oidc":
            st.button("Sign out", on_click=st.logout, key="auth_sign_out")
        elif who.kind == "user":
            st.link_button("Sign out", "/logout")
