"""A real headless Chromium opens the Overview, a bookmarked page and the Drift page of a
running demo."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.integration.browser import LAUNCH_ARGS, chromium_path
from tests.integration.server import ServerProcess, start_server


def _wait_for_demo(server: ServerProcess, timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        models = server.request("GET", "/api/v1/models").body.get("models", [])
        if models and models[0]["labels"] > 0:
            return int(models[0]["predictions"])
        time.sleep(0.5)
    raise AssertionError(f"demo history did not load:\n{server.output()}")


def test_overview_of_the_demo_renders_a_plotly_chart(tmp_path: Path) -> None:
    server = start_server(tmp_path / "vigil.duckdb", command="demo", extra=["--no-live"])
    try:
        assert _wait_for_demo(server) > 80_000
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium_path(), args=LAUNCH_ARGS)
            # First, before any session opened "/": a bookmarked page URL must still run
            # through the app's navigation (titled sidebar, wide layout). With the views in
            # a `pages/` folder Streamlit ran the bare script, with file names in the sidebar.
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(server.url + "/performance", wait_until="domcontentloaded")
            page.wait_for_selector(".js-plotly-plot .main-svg", timeout=60_000)
            page.wait_for_timeout(1000)
            nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
            assert "Latency & traffic" in nav and "Get started" in nav, nav
            assert "getting started" not in nav
            assert page.locator('[data-testid="stMetric"]').count() >= 6  # coverage + 5 KPIs
            page.close()
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(server.url + "/", wait_until="domcontentloaded")
            page.wait_for_selector(".js-plotly-plot .main-svg", timeout=60_000)
            assert page.locator(".js-plotly-plot").count() >= 1
            assert "credit-risk" in page.content()
            assert page.locator('[data-testid="stMetric"]').count() >= 4
            page.screenshot(path=str(tmp_path / "overview.png"), full_page=True)
            page.close()
            # The demo stores its training sample as the drift reference; the range computed
            # now needs no drift job run, so the page has charts at once.
            page = browser.new_page(viewport={"width": 1400, "height": 3000})
            page.goto(server.url + "/drift", wait_until="domcontentloaded")
            page.wait_for_selector("text=This range, computed now", timeout=60_000)
            page.wait_for_selector(".js-plotly-plot .main-svg", timeout=60_000)
            text = page.locator('[data-testid="stMain"]').inner_text()
            assert "training sample (sample_data)" in text, text[:2000]
            assert page.locator('[data-testid="stException"]').count() == 0
            browser.close()
        assert (tmp_path / "overview.png").stat().st_size > 10_000
    finally:
        assert server.stop(signal.SIGTERM) == 0
