"""Stakeholder reports from the real server (HTML, PDF, CSV) and from `vigil report`, both
through the API and straight from the database file once the server has stopped."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from tests.integration.conftest import record
from tests.integration.server import ServerProcess, free_port
from tests.pdf_pages import blank, pdf_pages

HOSTILE = "<img src=x onerror=alert(1)>"
RANGE = "start=2025-11-24T00:00:00Z&end=2025-11-26T00:00:00Z"


def _load(server: ServerProcess, model: str) -> None:
    records = [record(i, version=HOSTILE if i % 2 else "1") for i in range(400)]
    resp = server.request("POST", f"/api/v1/models/{model}/predictions", {"records": records})
    assert resp.status == 200, resp.body
    labels = [{"event_id": f"e{i}", "label": i % 3 == 0} for i in range(0, 400, 2)]
    assert (
        server.request("POST", f"/api/v1/models/{model}/labels", {"records": labels}).status == 200
    )


def _raw(server: ServerProcess, path: str) -> bytes:
    import urllib.request

    req = urllib.request.Request(
        server.url + path, headers={"Authorization": f"Bearer {server.token}"}
    )
    with urllib.request.urlopen(req, timeout=180) as reply:
        return bytes(reply.read())


def test_html_csv_and_pdf_from_the_api(server: ServerProcess, model: str, tmp_path: Path) -> None:
    _load(server, model)
    html = _raw(server, f"/api/v1/models/{model}/report?{RANGE}&format=html").decode()
    assert "credit" in html and "Headline" in html
    assert HOSTILE not in html  # the version name is escaped wherever it shows
    assert not re.search(r"""(src|href)\s*=\s*["']?https?:""", html, re.I)
    assert not re.search(r"url\(\s*['\"]?https?:", html, re.I)
    assert html.count("Plotly") > 0
    archive = zipfile.ZipFile(
        io.BytesIO(_raw(server, f"/api/v1/models/{model}/report?{RANGE}&format=csv"))
    )
    names = set(archive.namelist())
    assert {"headline.csv", "performance.csv", "summary.txt"} <= names
    headline = pd.read_csv(archive.open("headline.csv"))
    assert "accuracy" in set(headline.iloc[:, 0]) or "accuracy" in headline.to_string()
    pdf = _raw(server, f"/api/v1/models/{model}/report?{RANGE}&format=pdf&paper=letter")
    pages = pdf_pages(pdf, tmp_path / "pdf", dpi=30)
    assert len(pages) >= 2
    assert not any(blank(page) for page in pages)
    raw = pq.read_table(
        io.BytesIO(_raw(server, f"/api/v1/models/{model}/report?{RANGE}&format=parquet&version=1"))
    )
    assert raw.num_rows == 200 and set(raw.column("version").to_pylist()) == {"1"}
    assert {"event_id", "ts", "prediction", "label", "age", "income", "region"} <= set(
        raw.column_names
    )
    assert raw.column("event_id").to_pylist() == [f"e{i}" for i in range(0, 400, 2)]
    bad = server.request("GET", f"/api/v1/models/{model}/report?{RANGE}&format=docx")
    assert bad.status == 400 and "html, pdf, csv or parquet" in bad.body["error"]
    assert server.request("GET", f"/api/v1/models/{model}/report?{RANGE}&paper=a3").status == 400
    assert server.request("GET", f"/api/v1/models/nope/report?{RANGE}").status == 404


def test_the_cli_through_the_server_then_from_the_file(
    server: ServerProcess, model: str, tmp_path: Path
) -> None:
    _load(server, model)
    env = {**os.environ, "VIGIL_API_TOKEN": server.token, "VIGIL_URL": server.url}
    cli = [
        sys.executable,
        "-m",
        "dashboard.cli",
        "report",
        "--model",
        model,
        "--start",
        "2025-11-24",
        "--end",
        "2025-11-26",
    ]
    out = tmp_path / "via-server.html"
    done = subprocess.run(
        [*cli, "--format", "html", "-o", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "asking the server" in done.stderr and "wrote" in done.stderr
    assert out.read_text().startswith("<!DOCTYPE html>")
    assert server.stop(signal.SIGTERM) == 0
    nobody = {**env, "VIGIL_URL": f"http://127.0.0.1:{free_port()}"}
    zipped = tmp_path / "direct.zip"
    done = subprocess.run(
        [*cli, "--format", "csv", "--db", str(server.db), "-o", str(zipped)],
        capture_output=True,
        text=True,
        env=nobody,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "reading" in done.stderr and "directly" in done.stderr
    assert "performance.csv" in zipfile.ZipFile(zipped).namelist()
    wrong = subprocess.run(
        [*cli, "--format", "csv", "--db", str(server.db), "-o", str(zipped), "--end", "2025-11-20"],
        capture_output=True,
        text=True,
        env=nobody,
        timeout=60,
        check=False,
    )
    assert wrong.returncode != 0 and "must be after --start" in wrong.stderr
