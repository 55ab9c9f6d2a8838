"""report_tables and csv_zip: every table as CSV, spreadsheet-safe, with summary.txt."""

from __future__ import annotations

import io
import zipfile

import pandas as pd
import pytest

from monitoring.report import COLUMNS, csv_zip, report_tables, summary_paragraph
from tests.monitoring.report.sample import FORMULA, HOSTILE, empty_data, sample_data

NAMES = [
    "report",
    "headline",
    "objectives",
    "performance",
    "latency",
    "drift_windows",
    "drift_features",
    "quality",
    "alerts",
    "importance",
    "system",
    "reference",
]


def _read(archive: zipfile.ZipFile, name: str) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(archive.read(f"{name}.csv")), keep_default_na=False)


def test_tables_by_name() -> None:
    tables = report_tables(sample_data())
    assert list(tables) == NAMES
    headline = tables["headline"].set_index("name")
    assert headline.loc["accuracy", "direction"] == "↓"
    assert headline.loc["accuracy", "assessment"] == "bad"
    assert headline.loc["latency_p95_ms", "assessment"] == "good"
    about = dict(zip(tables["report"]["key"], tables["report"]["value"], strict=True))
    assert about["start"] == "2026-11-01T00:00:00+00:00"
    assert about["generated_by"] == "vigil report (CLI)"


def test_empty_frames_get_their_headers() -> None:
    tables = report_tables(empty_data())
    for name, columns in COLUMNS.items():
        assert list(tables[name].columns)[: len(columns)] == list(columns), name
        assert tables[name].empty
    assert list(tables["reference"].columns) == ["key", "value"]


def test_csv_zip_round_trip() -> None:
    data = sample_data()
    archive = zipfile.ZipFile(io.BytesIO(csv_zip(data)))
    assert archive.namelist() == ["summary.txt", *(f"{n}.csv" for n in NAMES)]
    assert summary_paragraph(data) in archive.read("summary.txt").decode("utf-8")
    performance = pd.read_csv(io.BytesIO(archive.read("performance.csv")))
    assert len(performance) == 7
    assert performance["provisional"].tolist() == [False] * 5 + [True] * 2
    assert performance["accuracy"].to_numpy() == pytest.approx(
        data.performance["accuracy"].to_numpy()
    )
    starts = pd.to_datetime(performance["window_start"], utc=True)
    assert starts.tolist() == pd.to_datetime(data.performance["window_start"], utc=True).tolist()
    features = _read(archive, "drift_features")
    assert HOSTILE in set(features["feature"])  # CSV keeps user text as it is
    alerts = pd.read_csv(io.BytesIO(archive.read("alerts.csv")))
    assert alerts["resolved_at"].isna().tolist() == [False, True]


def test_formula_cells_are_defused() -> None:
    archive = zipfile.ZipFile(io.BytesIO(csv_zip(sample_data())))
    importance = _read(archive, "importance")
    assert "'" + FORMULA in set(importance["feature"])
    assert FORMULA not in set(importance["feature"])
    assert importance["mean_abs"].tolist() == [0.3, 0.2, 0.1, 0.05]


def test_empty_report_zip_and_determinism() -> None:
    payload = csv_zip(empty_data())
    assert payload == csv_zip(empty_data())
    archive = zipfile.ZipFile(io.BytesIO(payload))
    alerts = _read(archive, "alerts")
    assert list(alerts.columns) == list(COLUMNS["alerts"]) and alerts.empty
    assert archive.infolist()[0].date_time == (2026, 11, 8, 9, 30, 0)
