"""Access & audit (admins only): users, API tokens, the audit log and erasure."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import admin_data, auth, data, perf_data
from dashboard import format as fmt
from monitoring.access import Action

if not auth.allowed(Action.ADMIN):
    st.error("This page is for admins: ask one to change your role.", icon=":material/block:")
    st.stop()

TIME = st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss", timezone="UTC")


def table(frame: pd.DataFrame, key: str, file_name: str | None = None) -> None:
    """A read-only table (user text stays text), with a CSV download when named."""
    columns = {c: TIME for c in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[c])}
    st.dataframe(
        frame,
        hide_index=True,
        column_config=columns,  # type: ignore[arg-type]
        placeholder=fmt.MISSING,
        key=key,
    )
    if file_name is not None:
        perf_data.download(st, frame, file_name, f"{key}_csv")


def users_tab() -> None:
    """Every user, the add form, and role, password and removal for a chosen user."""
    settings = data.runtime().settings
    if not settings.login_required:
        st.info(
            "Sign-in is off: the server listens on loopback only, so whoever reaches the "
            "dashboard is its local admin. Users added here sign in once the server listens "
            'beyond loopback or `[server] login = "always"` is set.',
            icon=":material/info:",
        )
    data.flash(admin_data.USERS)
    users = admin_data.user_rows()
    if users.empty:
        st.caption("No users yet: add the first one below.")
    else:
        table(users, "admin_users")
    add, change = st.columns(2, gap="large")
    with add, st.form("admin_add_form", border=True):
        st.markdown("**Add a user**")
        st.text_input("Name", key="admin_add_name", placeholder="ana@example.com")
        st.selectbox("Role", admin_data.ROLES, key="admin_add_role")
        st.text_input("Password", type="password", key="admin_add_password")
        st.text_input("Password again", type="password", key="admin_add_password2")
        st.caption("At least 12 characters; a few words make a good password.")
        st.form_submit_button(
            "Add user", on_click=admin_data.add_user, type="primary", key="admin_add_submit"
        )
    if users.empty:
        return
    with change, st.container(border=True):
        st.markdown("**Change a user**")
        name = st.selectbox("User", list(users["name"]), key="admin_pick_user")
        role_tab, password_tab, remove_tab = st.tabs(
            ["Role", "Password", "Remove"], key="admin_user_tab"
        )
        with role_tab, st.form("admin_role_form", border=False):
            current = users.set_index("name").loc[name, "role"] if name else "viewer"
            st.selectbox(
                "New role",
                admin_data.ROLES,
                index=admin_data.ROLES.index(str(current)),
                key="admin_role_new",
            )
            st.form_submit_button(
                "Change role", on_click=admin_data.set_role, key="admin_role_submit"
            )
        with password_tab, st.form("admin_reset_form", border=False):
            st.text_input("New password", type="password", key="admin_reset_password")
            st.text_input("New password again", type="password", key="admin_reset_password2")
            st.caption("Their sessions end, and a lockout after failed sign-ins is lifted.")
            st.form_submit_button(
                "Reset password", on_click=admin_data.set_password, key="admin_reset_submit"
            )
        with remove_tab, st.form("admin_remove_form", border=False):
            st.checkbox(f"Yes, remove {name}", key="admin_remove_confirm")
            st.caption("Their sessions end; the audit log keeps what they did.")
            st.form_submit_button(
                "Remove user", on_click=admin_data.remove_user, key="admin_remove_submit"
            )


def tokens_tab() -> None:
    """Every token, the secret of one just created (once), revoke buttons, the create form."""
    data.flash(admin_data.TOKENS)
    created = admin_data.take_secret()
    if created is not None:
        st.warning(
            f"Copy the secret of token **{fmt.markdown_text(created[0])}** now: it is not "
            "stored and will not be shown again.",
            icon=":material/key:",
        )
        st.code(created[1], language=None)
    frame, active = admin_data.token_rows()
    if frame.empty:
        st.caption("No API tokens yet: create one below.")
    else:
        table(frame, "admin_tokens")
    listing, form = st.columns(2, gap="large")
    with listing:
        st.markdown("**Active tokens**")
        if not active:
            st.caption("None.")
        for ident, name, scope in active:
            text, button = st.columns([4, 1], vertical_alignment="center")
            text.text(f"{ident} · {name} ({scope})")
            button.button(
                "Revoke",
                key=f"admin_revoke_{ident}",
                on_click=admin_data.revoke_token,
                args=(ident,),
            )
    models = [m["name"] for m in data.model_summaries()]
    with form, st.form("admin_token_form", border=True):
        st.markdown("**Create a token**")
        st.text_input(
            "Name",
            key="admin_token_name",
            placeholder="churn-service",
            help="Who uses it: shown in the audit log as `token <name>`",
        )
        st.selectbox(
            "Scope",
            list(admin_data.SCOPES),
            key="admin_token_scope",
            format_func=admin_data.SCOPES.__getitem__,
        )
        st.selectbox(
            "Model",
            [admin_data.EVERY_MODEL, *models],
            key="admin_token_model",
            help="A token for one model can act on that model only",
        )
        st.form_submit_button(
            "Create token",
            on_click=admin_data.create_token,
            type="primary",
            key="admin_token_submit",
        )


def audit_tab() -> None:
    """The audit log, filtered, newest first; read-only (no control edits or deletes it)."""
    when, actor, action = st.columns([2, 1, 1], vertical_alignment="bottom")
    label = when.segmented_control(
        "Range",
        list(admin_data.AUDIT_RANGES),
        default="Last 7 days",
        required=True,
        key="admin_audit_range",
    )
    who = actor.text_input("Actor", key="admin_audit_actor", placeholder="everyone")
    prefix = action.text_input(
        "Action", key="admin_audit_action", placeholder="user., token., erase"
    )
    frame = admin_data.audit_frame(str(label), who or "", prefix or "")
    if len(frame) >= admin_data.AUDIT_LIMIT:
        st.caption(f"The newest {admin_data.AUDIT_LIMIT:,} entries: narrow the filters.")
    if frame.empty:
        st.caption("No entry matches.")
    table(frame, "admin_audit", "vigil-audit-log.csv")
    st.caption(
        "Actor is matched exactly (a token reads `token <name>`); action by its start, so "
        "`user.` finds every user change. Entries are appended only: nothing here edits or "
        "deletes them."
    )


def erasure_tab() -> None:
    """Delete a data subject's rows from one model."""
    st.markdown(
        "Delete one person's predictions, with their labels, explanations and copies in "
        "references made from logged predictions (a right-to-erasure request)."
    )
    data.flash(admin_data.ERASE)
    models = [m["name"] for m in data.model_summaries()]
    if not models:
        st.caption("No models are registered.")
        return
    with st.container(border=True):
        left, right = st.columns(2)
        model = left.selectbox("Model", models, key="admin_erase_model")
        mode = right.radio(
            "Find the rows by",
            list(admin_data.ERASE_MODES),
            format_func=admin_data.ERASE_MODES.__getitem__,
            horizontal=True,
            key="admin_erase_mode",
        )
        if mode == "ids":
            st.text_area(
                "Event ids, one per line", key="admin_erase_ids", placeholder="e-1042\ne-1043"
            )
        else:
            left, right = st.columns(2)
            if mode == "feature":
                features = list(data.model(str(model)).features)
                left.selectbox("Feature", features, key="admin_erase_feature")
            else:
                left.text_input("Tag key", key="admin_erase_tag", placeholder="customer_id")
            right.text_input(
                "Value", key="admin_erase_value", help="Rows whose value equals this, as text"
            )
        st.checkbox(admin_data.ERASE_CONFIRM, key="admin_erase_confirm")
        st.button(
            "Erase",
            type="primary",
            icon=":material/delete_forever:",
            on_click=admin_data.erase,
            key="admin_erase_submit",
        )
    st.caption(
        "The erasure is recorded in the audit log without the values matched. Deleted values "
        "stay in the database file's free blocks until the server next starts, when it "
        "compacts the file and overwrites them."
    )


st.title("Access & audit")
if data.runtime().access is None:
    st.info("Users, tokens and the audit log live in `vigil serve`.", icon=":material/info:")
    st.stop()
# Keyed, so the open tab stays open when an action reruns the page.
users, tokens, audit, erasure = st.tabs(
    ["Users", "API tokens", "Audit log", "Erasure"], key="admin_tab"
)
with users:
    users_tab()
with tokens:
    tokens_tab()
with audit:
    audit_tab()
with erasure:
    erasure_tab()
