"""The Access & audit page under AppTest, with a real DuckDB store and a real AccessService.

Sign-in is on (`login = "always"`). AppTest has no HTTP request or cookie, so the tests
monkeypatch `dashboard.auth.principal` to say who is at the dashboard, and
`dashboard.auth.source` to give the client address a request would carry (AppTest's
`st.context.ip_address` is a MagicMock). Those are the only stand-ins (identity); every role
check, audit entry and stored row below is real. The cookie path itself is covered by the
Playwright test of the login flow.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from collectors.access import AccessService
from collectors.ingest import IngestService
from collectors.metrics import ServerMetrics
from collectors.settings import Settings
from dashboard import auth
from dashboard.admin_data import JUST_CREATED
from dashboard.runtime import Runtime, set_runtime
from monitoring.access import Principal, Role
from monitoring.passwords import verify_password
from storage import Store, Writer
from storage.models import get_model
from storage.tokens import hash_token
from tests.dashboard.apptest import errors, rerun, run_page, successes
from tests.dashboard.test_pages import APP, MODEL, TIMEOUT

PAGE = "views/admin.py"
ADMIN_PAGE = str(Path(APP).with_name("views") / "admin.py")
PASSWORD = "Tr0mbone-Gazebo-Quill-7731"  # distinctive, so a scan of the file bytes means something
ROOT = Principal("root", "user", role=Role.ADMIN)
T0 = datetime(2026, 1, 10, tzinfo=UTC)
CLIENT = "10.9.8.7"


@dataclass
class World:
    store: Store
    writer: Writer
    access: AccessService
    who: list[Principal | None]  # who[0] is the person at the dashboard

    def scalar(self, sql: str, params: list[Any] | None = None) -> Any:
        rows = self.store.cursor().execute(sql, params or []).fetchall()
        return rows[0][0] if rows else None

    def audit(self, action: str | None = None) -> pd.DataFrame:
        return self.access.audit_entries(action=action)


def prediction_records() -> list[dict[str, Any]]:
    return [
        {
            "event_id": f"e{i}",
            "timestamp": (T0 + timedelta(minutes=i)).isoformat(),
            "prediction": i % 2,
            "score": 0.5,
            "features": {"x": float(i), "email": f"user{i % 3}@example.com"},
            "tags": {"customer": f"c{i % 4}"},
        }
        for i in range(12)
    ]


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    store = Store(tmp_path / "v.duckdb")
    writer = Writer(store)
    ingest = IngestService(store, writer, ServerMetrics())
    schema = {"task": "binary", "positive_class": 1}
    ingest.register(MODEL, schema | {"features": {"x": "numeric", "email": "categorical"}})
    ingest.predictions(MODEL, prediction_records())
    ingest.labels(MODEL, [{"event_id": f"e{i}", "label": i % 2} for i in range(12)])
    settings = Settings(db=store.path, login="always")
    access = AccessService(store, writer, settings)
    set_runtime(Runtime(store, settings, access=access))
    st.cache_data.clear()
    who: list[Principal | None] = [ROOT]
    monkeypatch.setattr(auth, "principal", lambda: who[0])  # identity only: see the docstring
    monkeypatch.setattr(auth, "source", lambda: CLIENT)
    yield World(store, writer, access, who)
    set_runtime(None)
    st.cache_data.clear()
    writer.stop()
    store.close()


def frame_with(at: AppTest, column: str) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if column in d.value.columns)


def add_user(at: AppTest, name: str, password: str, again: str | None = None) -> AppTest:
    at.text_input(key="admin_add_name").set_value(name)
    at.selectbox(key="admin_add_role").set_value("editor")
    at.text_input(key="admin_add_password").set_value(password)
    at.text_input(key="admin_add_password2").set_value(password if again is None else again)
    at.button(key="admin_add_submit").click()
    return rerun(at)


def test_admin_adds_a_user_and_only_an_argon2_hash_is_stored(world: World) -> None:
    at = run_page(PAGE)
    assert at.title[0].value == "Access & audit"
    assert [t.label for t in at.tabs][:4] == ["Users", "API tokens", "Audit log", "Erasure"]
    add_user(at, "ana", PASSWORD)
    assert successes(at) == ["User ana added as editor."]
    # The passwords left session_state with the submit.
    assert at.text_input(key="admin_add_password").value == ""
    assert at.text_input(key="admin_add_password2").value == ""
    users = frame_with(at, "last sign-in")
    assert list(users.columns) == ["name", "role", "created", "last sign-in", "locked until"]
    assert users[["name", "role"]].values.tolist() == [["ana", "editor"]]
    stored = world.scalar("SELECT password_hash FROM users WHERE name = 'ana'")
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert verify_password(stored, PASSWORD)
    world.store.checkpoint()
    files = [world.store.path, world.store.path.with_name(world.store.path.name + ".wal")]
    raw = b"".join(f.read_bytes() for f in files if f.exists())
    assert PASSWORD.encode() not in raw
    [entry] = world.audit("user.").to_dict("records")
    assert (entry["actor"], entry["action"], entry["target"]) == ("root", "user.add", "ana")
    assert entry["source"] == CLIENT
    assert PASSWORD not in entry["detail"]


def test_add_user_shows_each_refusal(world: World) -> None:
    at = run_page(PAGE)
    add_user(at, "ana", "short")
    assert any("User not added" in e and "12" in e for e in errors(at))
    add_user(at, "ana", PASSWORD, again=PASSWORD + "x")
    assert errors(at) == ["User not added: the two passwords differ."]
    add_user(at, "ana smith", PASSWORD)
    assert any("invalid user name 'ana smith'" in e for e in errors(at))
    assert world.scalar("SELECT count(*) FROM users") == 0
    add_user(at, "ana", PASSWORD)
    add_user(at, "ana", PASSWORD)
    assert any("User not added" in e and "'ana' exists" in e for e in errors(at))
    assert world.scalar("SELECT count(*) FROM users") == 1


def test_admin_changes_a_role_resets_a_password_and_removes_a_user(world: World) -> None:
    world.access.add_user("ana", Role.VIEWER, PASSWORD, ROOT, "test")
    at = run_page(PAGE)
    at.selectbox(key="admin_pick_user").set_value("ana")
    at.selectbox(key="admin_role_new").set_value("editor")
    at.button(key="admin_role_submit").click()
    rerun(at)
    assert successes(at) == ["ana is now editor."]
    assert world.scalar("SELECT role FROM users WHERE name = 'ana'") == "editor"
    new = PASSWORD[::-1]
    at.text_input(key="admin_reset_password").set_value(new)
    at.text_input(key="admin_reset_password2").set_value(new)
    at.button(key="admin_reset_submit").click()
    rerun(at)
    assert successes(at) == ["Password of ana changed; their sessions have ended."]
    assert world.access.login("ana", new, "test").ok
    assert not world.access.login("ana", PASSWORD, "test").ok
    at.button(key="admin_remove_submit").click()  # not confirmed
    rerun(at)
    assert errors(at) == ["User not removed: tick the box to confirm removing ana."]
    at.checkbox(key="admin_remove_confirm").check()
    at.button(key="admin_remove_submit").click()
    rerun(at)
    assert successes(at) == ["User ana removed; their sessions have ended."]
    assert world.scalar("SELECT count(*) FROM users") == 0
    actions = world.audit("user.")["action"].tolist()
    assert actions == ["user.remove", "user.password", "user.role", "user.add"]


def test_an_admin_cannot_remove_or_demote_themselves(world: World) -> None:
    world.access.add_user("root", Role.ADMIN, PASSWORD, ROOT, "test")
    at = run_page(PAGE)
    at.selectbox(key="admin_role_new").set_value("viewer")
    at.button(key="admin_role_submit").click()
    rerun(at)
    assert errors(at) == ["Role not changed: another admin must change your own role."]
    at.checkbox(key="admin_remove_confirm").check()
    at.button(key="admin_remove_submit").click()
    rerun(at)
    assert errors(at) == ["User not removed: another admin must remove your own account."]
    assert world.scalar("SELECT role FROM users WHERE name = 'root'") == "admin"


def test_token_secret_is_shown_once_and_revoking_refuses_it_at_once(world: World) -> None:
    at = run_page(PAGE)
    assert frame_with_or_none(at, "last used") is None
    at.text_input(key="admin_token_name").set_value("churn-service")
    at.selectbox(key="admin_token_scope").set_value("ingest")
    at.selectbox(key="admin_token_model").set_value(MODEL)
    at.button(key="admin_token_submit").click()
    rerun(at)
    [code] = at.code
    secret = code.value
    assert secret.startswith("vgl_")
    assert any("will not be shown again" in w.value for w in at.warning)
    token_id = hash_token(secret)[:12]
    assert successes(at) == [f"Token churn-service ({token_id}) created: ingest on model churn."]
    stored = world.store.cursor().execute("SELECT * FROM api_tokens").df()
    assert stored["token_hash"].tolist() == [hash_token(secret)]
    assert not stored.isin([secret]).any().any()
    principal = world.access.token_principal(secret)
    assert principal == Principal("churn-service", "token", scope="ingest", model=MODEL)
    tokens = frame_with(at, "last used")
    assert list(tokens.columns) == [
        "id", "name", "scope", "model", "created", "by", "last used", "revoked",
    ]  # fmt: skip
    row = tokens.iloc[0]
    assert (row["id"], row["name"], row["model"], row["by"]) == (
        token_id,
        "churn-service",
        MODEL,
        "root",
    )
    assert row["last used"] == "never" and pd.isna(row["revoked"])
    rerun(at)  # the next run: the secret is gone from the page and from session_state
    assert not at.code
    assert JUST_CREATED not in at.session_state
    at.button(key=f"admin_revoke_{token_id}").click()
    rerun(at)
    assert successes(at) == [f"Token churn-service ({token_id}) revoked: it is refused from now."]
    assert world.access.token_principal(secret) is None
    assert not pd.isna(frame_with(at, "last used").iloc[0]["revoked"])
    assert not any(b.key == f"admin_revoke_{token_id}" for b in at.button)
    assert world.audit("token.")["action"].tolist() == ["token.revoke", "token.create"]


def frame_with_or_none(at: AppTest, column: str) -> pd.DataFrame | None:
    return next((d.value for d in at.dataframe if column in d.value.columns), None)


def test_token_refusals_are_messages(world: World) -> None:
    at = run_page(PAGE)
    at.button(key="admin_token_submit").click()  # no name
    rerun(at)
    assert any("Token not created" in e and "needs a name" in e for e in errors(at))
    world.access.create_token("ci", "read", None, ROOT, "test")
    at.text_input(key="admin_token_name").set_value("ci")
    at.button(key="admin_token_submit").click()
    rerun(at)
    assert any("an active token is named 'ci'" in e for e in errors(at))
    assert not at.code


def test_audit_log_filters_newest_first_and_downloads(world: World) -> None:
    world.access.add_user("ana", Role.VIEWER, PASSWORD, ROOT, "10.0.0.1")
    world.access.create_token("ci", "read", None, ROOT, "10.0.0.1")
    world.access.audit(Principal("ana", "user", role=Role.VIEWER), "login", "ana", {}, "10.0.0.2")
    at = run_page(PAGE)
    log = frame_with(at, "outcome")
    assert list(log.columns) == [
        "at", "actor", "kind", "action", "target", "detail", "source", "outcome",
    ]  # fmt: skip
    assert log["action"].tolist() == ["login", "token.create", "user.add"]  # newest first
    at.text_input(key="admin_audit_action").set_value("user.")
    rerun(at)
    assert frame_with(at, "outcome")["action"].tolist() == ["user.add"]
    at.text_input(key="admin_audit_action").set_value("")
    at.text_input(key="admin_audit_actor").set_value("ana")
    rerun(at)
    only = frame_with(at, "outcome")
    assert only[["actor", "action", "source"]].values.tolist() == [["ana", "login", "10.0.0.2"]]
    at.segmented_control(key="admin_audit_range").set_value("Last 24 h")
    rerun(at)
    assert len(frame_with(at, "outcome")) == 1  # written just now
    download = next(b for b in at.get("download_button") if b.proto.label == "Download CSV")
    assert download is not None
    # Read-only: no control on the page edits or deletes entries.
    assert not any("delete" in (b.key or "") or "audit" in (b.key or "") for b in at.button)


def test_erasure_by_event_ids_deletes_the_rows(world: World) -> None:
    table = get_model(world.store.cursor(), MODEL).table  # type: ignore[union-attr]
    at = run_page(PAGE)
    at.text_area(key="admin_erase_ids").set_value("e3\n e5 \n\nnope")
    at.button(key="admin_erase_submit").click()
    rerun(at)
    assert errors(at) == ["Nothing erased: tick the box to confirm first."]
    assert world.scalar(f"SELECT count(*) FROM {table}") == 12
    at.checkbox(key="admin_erase_confirm").check()
    at.button(key="admin_erase_submit").click()
    rerun(at)
    [done] = successes(at)
    assert done.startswith(
        "Erased from model churn: 2 predictions, 2 labels, 0 explanations, 0 reference rows."
    )
    assert "compacted" in done and "next starts" in done
    ids = world.store.cursor().execute(f"SELECT event_id FROM {table}").fetchall()
    assert {r[0] for r in ids} == {f"e{i}" for i in range(12)} - {"e3", "e5"}
    assert world.scalar("SELECT count(*) FROM labels WHERE event_id IN ('e3', 'e5')") == 0
    assert world.scalar("SELECT value FROM maintenance WHERE key = 'purge_needed'") is not None
    assert at.checkbox(key="admin_erase_confirm").value is False  # ticked again per erasure
    [entry] = world.audit("erase").to_dict("records")
    assert (entry["actor"], entry["target"], entry["outcome"]) == ("root", MODEL, "ok")
    assert "e3" not in entry["detail"]


def test_erasure_by_tag_and_feature_value(world: World) -> None:
    table = get_model(world.store.cursor(), MODEL).table  # type: ignore[union-attr]
    at = run_page(PAGE)
    at.radio(key="admin_erase_mode").set_value("tag")
    rerun(at)
    at.text_input(key="admin_erase_tag").set_value("nokey")
    at.text_input(key="admin_erase_value").set_value("c1")
    at.checkbox(key="admin_erase_confirm").check()
    at.button(key="admin_erase_submit").click()
    rerun(at)
    assert any(e.startswith("Nothing erased: no prediction") for e in errors(at))
    at.text_input(key="admin_erase_tag").set_value("customer")
    at.text_input(key="admin_erase_value").set_value("c1")
    at.checkbox(key="admin_erase_confirm").check()
    at.button(key="admin_erase_submit").click()
    rerun(at)
    assert successes(at)[0].startswith("Erased from model churn: 3 predictions, 3 labels")
    at.radio(key="admin_erase_mode").set_value("feature")
    rerun(at)
    at.selectbox(key="admin_erase_feature").set_value("email")
    at.text_input(key="admin_erase_value").set_value("user0@example.com")
    at.checkbox(key="admin_erase_confirm").check()
    at.button(key="admin_erase_submit").click()
    rerun(at)
    # e0, e3, e6 and e9 have user0, but e9 went with tag c1 (e1, e5, e9): three are left.
    assert successes(at)[0].startswith("Erased from model churn: 3 predictions")
    assert world.scalar(f"SELECT count(*) FROM {table}") == 6


@pytest.mark.parametrize("role", [Role.VIEWER, Role.EDITOR])
def test_viewers_and_editors_are_refused(world: World, role: Role) -> None:
    world.who[0] = Principal("ana", "user", role=role)
    # Through the app, the page is not in the navigation at all.
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert not any(t.value == "Access & audit" for t in at.title)
    # Run on its own (as a forged page request would), it refuses before reading anything.
    at = AppTest.from_file(ADMIN_PAGE, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert [e.value for e in at.error] == ["This page is for admins: ask one to change your role."]
    assert not at.dataframe and not at.button and not at.text_input
