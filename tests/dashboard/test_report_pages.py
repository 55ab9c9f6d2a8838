"""The Reports page under AppTest, reading a real DuckDB store.

One store per module: model `churn` has 300 predictions, one every 48 minutes over ten UTC
days (2026-01-05 to 2026-01-14), two thirds of them labelled, version 2 from the sixth day.
Builds go through the real report code (collectors.report_api) on the pages' service threads.
"""

from __future__ import annotations

import dataclasses
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from collectors.ingest import IngestService
from collectors.metrics import ServerMetrics
from collectors.report_settings import ReportSchedule
from collectors.settings import Settings
from dashboard import report_page_data
from dashboard.runtime import Runtime, set_runtime
from storage import Store, Writer
from storage.report_sends import record_send
from tests.dashboard.test_pages import APP, TIMEOUT

PAGE = "views/reports.py"
MODEL = "churn"
T0 = datetime(2026, 1, 5, tzinfo=UTC)
N = 300
STEP = timedelta(minutes=48)
SCHEMA = {
    "task": "binary",
    "positive_class": 1,
    "features": {"x": "numeric", "plan": "categorical"},
}
DEFAULT_DAYS = (date(2026, 1, 8), date(2026, 1, 14))
HOSTILE = "<script>x</script>"


@dataclass
class World:
    store: Store
    writer: Writer
    ingest: IngestService
    settings: Settings

    def install(self, settings: Settings | None = None) -> None:
        set_runtime(Runtime(self.store, settings or self.settings))
        st.cache_data.clear()


def records() -> list[dict[str, Any]]:
    return [
        {
            "event_id": f"e{i}",
            "timestamp": (T0 + i * STEP).isoformat(),
            "version": "2" if i >= N // 2 else "1",
            "prediction": i % 2,
            "score": 0.8 if i % 2 else 0.2,
            "latency_ms": 4 + i % 9,
            "features": {"x": float(i % 13), "plan": "pro" if i % 3 else "basic"},
        }
        for i in range(N)
    ]


def in_range(start: date, last: date, version: str | None = None) -> int:
    """Predictions of the fixture between two UTC days (both included)."""
    times = [T0 + i * STEP for i in range(N)]
    versions = ["2" if i >= N // 2 else "1" for i in range(N)]
    return sum(
        start <= t.date() <= last and (version is None or v == version)
        for t, v in zip(times, versions, strict=True)
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder: Path = tmp_path_factory.mktemp("report_pages")
    store = Store(folder / "v.duckdb")
    writer = Writer(store)
    settings = Settings(db=store.path)
    ingest = IngestService(store, writer, ServerMetrics())
    ingest.register(MODEL, SCHEMA)
    ingest.predictions(MODEL, records())
    ingest.labels(MODEL, [{"event_id": f"e{i}", "label": i % 2} for i in range(N) if i % 3])
    loaded = World(store, writer, ingest, settings)
    loaded.install()
    yield loaded
    set_runtime(None)
    st.cache_data.clear()
    writer.stop()
    store.close()


def run_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def rerun(at: AppTest) -> None:
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def build(at: AppTest, label: str) -> bytes | None:
    """Pick a format, click Build; the built bytes (None when nothing was built)."""
    at.segmented_control(key="reports_format").set_value(label)
    rerun(at)
    at.button(key="reports_build").click()
    rerun(at)
    key = report_page_data.BUILT
    built = at.session_state.get(key)
    return None if built is None else built[1]


def texts(at: AppTest) -> list[str]:
    kinds = (at.markdown, at.caption, at.info, at.warning, at.error, at.success)
    return [e.value for kind in kinds for e in kind]


def frame_with(at: AppTest, column: str) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if column in d.value.columns)


def test_no_model_shows_getting_started(tmp_path: Path, world: World) -> None:
    store = Store(tmp_path / "empty.duckdb")
    writer = Writer(store)
    set_runtime(Runtime(store, Settings(db=store.path)))
    st.cache_data.clear()
    try:
        at = run_page()
        assert "No models are registered yet" in at.info[0].value
        assert not at.get("download_button")
        assert "reports_build" not in [b.key for b in at.button]
    finally:
        world.install()
        writer.stop()
        store.close()


def test_the_form_defaults_to_the_last_seven_days_and_explains_schedules(world: World) -> None:
    at = run_page()
    assert at.title[0].value == "Reports"
    assert [s.value for s in at.subheader] == ["Build a report", "Scheduled reports", "Sent"]
    assert at.selectbox(key="reports_model").value == MODEL
    assert at.selectbox(key=f"reports_version_{MODEL}").options == ["All versions", "1", "2"]
    assert at.date_input(key=f"reports_days_{MODEL}").value == DEFAULT_DAYS
    formats = at.segmented_control(key="reports_format")
    assert (formats.options, formats.value) == (["HTML", "PDF", "CSV", "Parquet"], "HTML")
    assert at.segmented_control(key="reports_paper").disabled  # only PDF has paper
    assert not at.button(key="reports_build").disabled
    expected = in_range(*DEFAULT_DAYS)
    assert 0 < expected < N
    assert any(
        "2026-01-08 00:00 UTC to 2026-01-15 00:00 UTC" in t and f"{expected} predictions" in t
        for t in texts(at)
    )
    info = at.info[0].value
    assert "No scheduled reports" in info and "[reports.weekly]" in info
    for line in ('schedule = "mon 08:00"', 'timezone = "Europe/Paris"', "period_days = 7"):
        assert line in info
    assert "No scheduled report has been sent yet." in texts(at)
    assert not at.get("download_button")
    # PDF enables the paper choice.
    at.segmented_control(key="reports_format").set_value("PDF")
    rerun(at)
    assert not at.segmented_control(key="reports_paper").disabled


def test_html_build_offers_the_download_and_a_preview(world: World) -> None:
    at = run_page()
    body = build(at, "HTML")
    assert body is not None and body.startswith(b"<!DOCTYPE html>")
    assert MODEL.encode() in body
    [button] = at.get("download_button")
    assert button.proto.label.startswith("Download HTML")
    [preview] = at.get("iframe")
    assert preview.proto.srcdoc.startswith("<!DOCTYPE html>")
    assert preview.proto.scrolling
    assert not at.error
    # Another range is another report: the old download goes away.
    at.date_input(key=f"reports_days_{MODEL}").set_value((date(2026, 1, 5), date(2026, 1, 6)))
    rerun(at)
    assert not at.get("download_button") and not at.get("iframe")


def test_csv_build_is_a_zip_of_the_tables(world: World) -> None:
    at = run_page()
    body = build(at, "CSV")
    assert body is not None
    names = zipfile.ZipFile(io.BytesIO(body)).namelist()
    assert "headline.csv" in names and "summary.txt" in names
    headline = pd.read_csv(io.BytesIO(zipfile.ZipFile(io.BytesIO(body)).read("headline.csv")))
    assert not headline.empty
    [button] = at.get("download_button")
    assert button.proto.label.startswith("Download CSV")
    assert not at.get("iframe")


def test_parquet_build_holds_the_predictions_of_the_range_and_version(world: World) -> None:
    at = run_page()
    at.selectbox(key=f"reports_version_{MODEL}").set_value("2")
    rerun(at)
    body = build(at, "Parquet")
    assert body is not None
    table = pq.read_table(io.BytesIO(body))
    assert table.num_rows == in_range(*DEFAULT_DAYS, version="2") > 0
    assert set(table.column("version").to_pylist()) == {"2"}


def test_pdf_without_chromium_says_how_to_get_it(
    world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("VIGIL_CHROMIUM", str(tmp_path / "no-chromium"))
    at = run_page()
    assert build(at, "PDF") is None
    [error] = at.error
    assert "could not print the report" in error.value
    assert not at.get("download_button")


# Needs Chromium, as every browser test does (.ci/run installs it): never skipped.
def test_pdf_build_prints_on_the_chosen_paper(world: World) -> None:
    at = run_page()
    at.segmented_control(key="reports_format").set_value("PDF")
    rerun(at)
    at.segmented_control(key="reports_paper").set_value("Letter")
    rerun(at)
    at.button(key="reports_build").click()
    rerun(at)
    body = at.session_state[report_page_data.BUILT][1]
    assert body.startswith(b"%PDF-")
    assert b"MediaBox [0 0 612 792]" in body  # US Letter in points
    [button] = at.get("download_button")
    assert button.proto.label.startswith("Download PDF")


def test_file_names_and_ranges() -> None:
    start = datetime(2026, 1, 8, tzinfo=UTC)
    end = datetime(2026, 1, 15, tzinfo=UTC)
    name = report_page_data.file_name(MODEL, start, end, "csv")
    assert name == "churn-report-20260108-20260115.zip"
    assert report_page_data.file_name(MODEL, start, end, "html").endswith(".html")
    days = (date(2026, 1, 14), date(2026, 1, 8))  # either order
    assert report_page_data.day_range(days) == (start, end)
    assert report_page_data.day_range((date(2026, 1, 8),)) is None
    summary = {"first_seen": T0 + timedelta(days=8), "last_seen": T0 + timedelta(days=9, hours=3)}
    assert report_page_data.default_days(summary) == (date(2026, 1, 13), date(2026, 1, 14))
    empty = {"first_seen": None, "last_seen": None}
    assert report_page_data.default_days(empty, date(2026, 3, 1)) == (
        date(2026, 2, 23),
        date(2026, 3, 1),
    )


def test_schedules_and_sends_are_listed(world: World) -> None:
    weekly = ReportSchedule(
        name="weekly",
        model=MODEL,
        channel="ops-email",
        schedule="mon 08:00",
        day_of_week="mon",
        hour=8,
        minute=0,
        timezone="Europe/Paris",
        period_days=7.0,
        recipients=("risk@example.com", "cto@example.com"),
        version="2",
        paper="letter",
    )
    base = {
        "model": MODEL,
        "version": None,
        "range_start": datetime(2026, 1, 5, 7, tzinfo=UTC),
        "range_end": datetime(2026, 1, 12, 7, tzinfo=UTC),
        "channel": "ops-email",
        "pdf_bytes": 1000,
        "html_bytes": 2000,
    }
    world.writer.run(
        lambda con: record_send(
            con, {**base, "schedule": "weekly", "status": "sent"}, ["risk@example.com"]
        )
    )
    failed = {**base, "schedule": "daily", "status": "failed", "error": f"SMTP said {HOSTILE}"}
    world.writer.run(lambda con: record_send(con, failed, ["a@example.com", "b@example.com"]))
    world.install(dataclasses.replace(world.settings, reports={"weekly": weekly}))
    try:
        at = run_page()
        schedules = frame_with(at, "when")
        assert schedules.to_dict("records")[0] | {"last sent": None} == {
            "name": "weekly",
            "model": MODEL,
            "version": "2",
            "when": "mon 08:00",
            "timezone": "Europe/Paris",
            "period": "7 days",
            "channel": "ops-email",
            "recipients": "risk@example.com, cto@example.com",
            "paper": "letter",
            "last sent": None,
        }
        assert not pd.isna(schedules["last sent"].iloc[0])
        assert not any("No scheduled reports" in t for t in texts(at))
        sent = frame_with(at, "sent_at")
        assert list(sent.columns) == report_page_data.SENT_COLUMNS
        assert list(sent["schedule"]) == ["daily", "weekly"]  # newest first
        assert list(sent["status"]) == ["failed", "sent"]
        assert sent["recipients"].iloc[0] == "a@example.com, b@example.com"
        assert sent["error"].iloc[0] == f"SMTP said {HOSTILE}"
        assert set(sent["range"]) == {"2026-01-05 07:00 → 2026-01-12 07:00 UTC"}
        assert set(sent["version"]) == {"all"}
        assert any("1 failed" in t for t in texts(at))
    finally:
        world.install()


def test_user_text_stays_text_in_the_page_and_the_preview(world: World) -> None:
    # "odd" sorts after "churn": the other tests keep churn as the first model.
    world.ingest.register("odd", SCHEMA)
    world.ingest.predictions(
        "odd", [{**r, "event_id": f"odd{i}", "version": HOSTILE} for i, r in enumerate(records())]
    )
    st.cache_data.clear()
    at = run_page()
    at.selectbox(key="reports_model").set_value("odd")
    rerun(at)
    at.selectbox(key="reports_version_odd").set_value(HOSTILE)
    rerun(at)
    caption = next(t for t in texts(at) if "predictions of version" in t)
    assert "<script>" not in caption and "\\<script\\>" in caption
    assert build(at, "HTML") is not None
    [preview] = at.get("iframe")
    assert HOSTILE not in preview.proto.srcdoc
    assert "&lt;script&gt;x&lt;/script&gt;" in preview.proto.srcdoc
