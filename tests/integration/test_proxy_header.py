"""Behind an authenticating reverse proxy: the dashboard takes the user from the trusted
header and maps it to a role with [auth]; no header or an unnamed user gets no way in.
Headless Chromium sends the header as a proxy would."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, sync_playwright

from tests.integration.browser import LAUNCH_ARGS, chromium_path
from tests.integration.server import ServerProcess, start_server

HEADER = "X-Forwarded-Email"


def _open(browser: Browser, server: ServerProcess, user: str | None) -> str:
    headers = {HEADER: user} if user else {}
    page = browser.new_context(extra_http_headers=headers).new_page()
    page.goto(server.url + "/", wait_until="domcontentloaded")
    page.wait_for_selector("h1", timeout=60_000)
    page.wait_for_timeout(1500)
    return page.locator('[data-testid="stApp"]').inner_text()


def test_the_trusted_header_names_the_user(tmp_path: Path) -> None:
    config = tmp_path / "vigil.toml"
    config.write_text(
        f'[server]\nlogin = "always"\ntrusted_user_header = "{HEADER}"\n'
        '[auth]\neditors = ["ed@example.com"]\n',
        encoding="utf-8",
    )
    server = start_server(tmp_path / "vigil.duckdb", config=config)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium_path(), args=LAUNCH_ARGS)
            text = _open(browser, server, "ed@example.com")
            assert "Signed in as ed@example.com · editor" in text
            assert "Access & audit" not in text
            assert "no Vigil role is granted" in _open(browser, server, "eve@example.com")
            assert "This dashboard needs you to sign in." in _open(browser, server, None)
            browser.close()
    finally:
        server.stop()
