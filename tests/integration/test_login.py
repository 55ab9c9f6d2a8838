"""Dashboard sign-in on the real server: the form, the session cookie, expiry, lock-out,
the audit log, and a real headless Chromium signing in (and failing to)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import sync_playwright

from tests.integration.access_seed import PASSWORDS, Seeded, seed
from tests.integration.browser import LAUNCH_ARGS, chromium_path
from tests.integration.server import ServerProcess, start_server


def _config(root: Path, extra: str = "") -> Path:
    path = root / "vigil.toml"
    path.write_text(
        f'[server]\nlogin = "always"\nlogin_max_failures = 3\n{extra}', encoding="utf-8"
    )
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Seeded]]:
    root = tmp_path_factory.mktemp("login")
    seeded = seed(root / "vigil.duckdb")
    server = start_server(root / "vigil.duckdb", config=_config(root))
    yield server, seeded
    server.stop()


def _sign_in(client: httpx.Client, user: str, password: str) -> httpx.Response:
    form = client.get("/login?next=/alerts")
    assert form.status_code == 200
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    return client.post(
        "/login",
        data={"username": user, "password": password, "csrf": csrf[1], "next": "/alerts"},
    )


def test_pages_redirect_to_the_form_until_signed_in(world: tuple[ServerProcess, Seeded]) -> None:
    server, _ = world
    with httpx.Client(base_url=server.url) as client:
        first = client.get("/performance")
        assert first.status_code == 303
        assert first.headers["location"] == "/login?next=/performance"
        done = _sign_in(client, "ed", PASSWORDS["ed"])
        assert done.status_code == 303 and done.headers["location"] == "/alerts"
        cookie = done.headers["set-cookie"]
        assert "vigil_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
        assert client.get("/performance").status_code == 200
        assert client.get("/logout").status_code == 303
        assert client.get("/performance").status_code == 303  # the session ended


def test_a_wrong_password_or_a_forged_form_is_refused(world: tuple[ServerProcess, Seeded]) -> None:
    server, seeded = world
    with httpx.Client(base_url=server.url) as client:
        wrong = _sign_in(client, "ada", "not-the-password-at-all")
        assert wrong.status_code == 401
        assert "Wrong user name or password." in wrong.text
        assert "vigil_session" not in wrong.headers.get("set-cookie", "")
        unknown = _sign_in(client, "nobody", "whatever-password-1")
        assert unknown.status_code == 401 and "Wrong user name or password." in unknown.text
        forged = client.post(
            "/login", data={"username": "ada", "password": PASSWORDS["ada"], "csrf": "x"}
        )
        assert forged.status_code == 400 and "expired" in forged.text
    audit = server.request(
        "GET", "/api/v1/audit?action=login", token=seeded.tokens["admin-tok"]
    ).body["entries"]
    failed = [e for e in audit if e["action"] == "login_failed" and e["target"] == "ada"]
    assert failed and failed[0]["detail"]["reason"] == "wrong password"
    assert failed[0]["source"] == "127.0.0.1"
    assert "not-the-password-at-all" not in str(audit)


def test_repeated_failures_lock_the_account(world: tuple[ServerProcess, Seeded]) -> None:
    server, _ = world
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for _ in range(3):
            assert _sign_in(client, "lou", "wrong-password-123").status_code == 401
        locked = _sign_in(client, "lou", PASSWORDS["lou"])
        assert locked.status_code == 401
        assert "Too many failed sign-ins" in locked.text


RULE = {"metric": "accuracy", "comparison": "<", "threshold": 0.9, "model": "credit"}


def test_a_viewers_post_to_a_rule_is_refused_and_changes_nothing(
    world: tuple[ServerProcess, Seeded],
) -> None:
    """The API also accepts the dashboard's session cookie, with the person's role."""
    server, seeded = world
    with httpx.Client(base_url=server.url) as viewer:
        assert _sign_in(viewer, "vera", PASSWORDS["vera"]).status_code == 303
        refused = viewer.put("/api/v1/rules/low-accuracy", json=RULE)
        assert refused.status_code == 403
        assert "needs the editor role; vera is a viewer" in refused.json()["error"]
        assert viewer.get("/api/v1/rules").json()["rules"] == []
        assert viewer.post("/api/v1/silences", json={"minutes": 5}).status_code == 403
    with httpx.Client(base_url=server.url) as editor:
        assert _sign_in(editor, "ed", PASSWORDS["ed"]).status_code == 303
        # A page of another site cannot ride on the cookie.
        forged = editor.put(
            "/api/v1/rules/low-accuracy", json=RULE, headers={"Origin": "https://evil.example"}
        )
        assert forged.status_code == 401
        saved = editor.put("/api/v1/rules/low-accuracy", json=RULE)
        assert saved.status_code == 200, saved.text
        rules = editor.get("/api/v1/rules").json()["rules"]
        assert [(r["name"], r["source"], r["condition"]) for r in rules] == [
            ("low-accuracy", "api", "< 0.9")
        ]
        assert editor.delete("/api/v1/rules/low-accuracy").status_code == 200
    audit = server.request(
        "GET", "/api/v1/audit?action=rule.", token=seeded.tokens["admin-tok"]
    ).body["entries"]
    outcomes = [(e["actor"], e["action"], e["outcome"]) for e in reversed(audit)]
    assert outcomes == [
        ("vera", "rule.save", "denied"),
        ("ed", "rule.save", "ok"),
        ("ed", "rule.delete", "ok"),
    ]


def test_sessions_expire(tmp_path: Path) -> None:
    seed(tmp_path / "vigil.duckdb")
    server = start_server(
        tmp_path / "vigil.duckdb", config=_config(tmp_path, "session_hours = 0.0005\n")
    )
    try:
        with httpx.Client(base_url=server.url) as client:
            assert _sign_in(client, "ed", PASSWORDS["ed"]).status_code == 303
            assert client.get("/").status_code == 200
            time.sleep(2.5)  # the session lasts 1.8 s
            assert client.get("/").status_code == 303
    finally:
        server.stop()


def test_sign_in_in_a_real_browser(world: tuple[ServerProcess, Seeded], tmp_path: Path) -> None:
    server, _ = world
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=LAUNCH_ARGS)
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        page.goto(server.url + "/", wait_until="domcontentloaded")
        assert "/login" in page.url
        page.fill("#username", "ed")
        page.fill("#password", "wrong-password-456")
        page.click("button[type=submit]")
        page.wait_for_selector(".error")
        assert "Wrong user name or password." in page.inner_text(".error")
        page.screenshot(path=str(tmp_path / "login-failed.png"))
        page.fill("#username", "ed")
        page.fill("#password", PASSWORDS["ed"])
        page.click("button[type=submit]")
        page.wait_for_selector("text=Signed in as", timeout=60_000)
        sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
        assert "ed" in sidebar and "editor" in sidebar
        assert "Access & audit" not in sidebar  # editors have no admin page
        page.screenshot(path=str(tmp_path / "signed-in.png"))
        page.close()
        admin = browser.new_page(viewport={"width": 1300, "height": 900})
        admin.goto(server.url + "/login", wait_until="domcontentloaded")
        admin.fill("#username", "ada")
        admin.fill("#password", PASSWORDS["ada"])
        admin.click("button[type=submit]")
        admin.wait_for_selector("text=Access & audit", timeout=60_000)
        browser.close()
