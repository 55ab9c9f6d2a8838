"""Single sign-on through st.login against a real (local, minimal) OpenID Connect provider,
in headless Chromium: the provider's groups claim maps to a role; an identity no list
names gets no role."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.integration.browser import LAUNCH_ARGS, chromium_path
from tests.integration.oidc_provider import Provider
from tests.integration.server import free_port, start_server


def _config(root: Path, idp: Provider, port: int) -> Path:
    path = root / "vigil.toml"
    path.write_text(
        f"""[server]
login = "always"
[auth]
admins = ["group:ml-admins"]
viewers = ["viewer@example.com"]
[auth.oidc]
server_metadata_url = "{idp.url}/.well-known/openid-configuration"
client_id = "vigil"
redirect_uri = "http://127.0.0.1:{port}/oauth2callback"
label = "Test SSO"
""",
        encoding="utf-8",
    )
    return path


def test_single_sign_on_maps_groups_to_roles(tmp_path: Path) -> None:
    os.environ["VIGIL_OIDC_CLIENT_SECRET"] = "test-client-secret"  # read by the server child
    port = free_port()
    with Provider() as idp:
        server = start_server(
            tmp_path / "vigil.duckdb", port=port, config=_config(tmp_path, idp, port)
        )
        try:
            secrets_file = tmp_path / "streamlit-secrets.toml"
            assert oct(secrets_file.stat().st_mode & 0o777) == "0o600"
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=chromium_path(), args=LAUNCH_ARGS)
                idp.user = {"sub": "u1", "email": "ana@example.com", "groups": ["ml-admins"]}
                page = browser.new_page(viewport={"width": 1300, "height": 900})
                page.goto(server.url + "/", wait_until="domcontentloaded")
                page.get_by_role("button", name="Sign in with Test SSO").click()
                page.wait_for_selector("text=Signed in as", timeout=60_000)
                sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
                assert "ana@example.com" in sidebar and "admin" in sidebar
                assert "Access & audit" in sidebar
                page.close()

                idp.user = {"sub": "u2", "email": "mallory@example.com", "groups": ["other"]}
                other = browser.new_context().new_page()
                other.goto(server.url + "/", wait_until="domcontentloaded")
                other.get_by_role("button", name="Sign in with Test SSO").click()
                other.wait_for_selector("text=no Vigil role is granted", timeout=60_000)
                assert other.locator('[data-testid="stSidebarNav"]').count() == 0
                browser.close()
        finally:
            server.stop()
            os.environ.pop("VIGIL_OIDC_CLIENT_SECRET", None)
