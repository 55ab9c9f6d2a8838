"""References, drift, quality and the Evidently report through the real server's API, the
`vigil reference` command and the spool folder."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tests.integration.conftest import record
from tests.integration.server import ServerProcess

START = datetime.fromtimestamp(1_764_000_000, UTC)
RANGE = f"start={START:%Y-%m-%dT%H:%M:%SZ}&end={START + timedelta(days=1):%Y-%m-%dT%H:%M:%SZ}"


def _reference(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.integers(30, 70, n).astype(float),
            "income": rng.uniform(0, 89_000, n),
            "region": rng.choice(["north", "south"], n),
            "label": rng.integers(0, 2, n),
        }
    )


def _load(server: ServerProcess, model: str, n: int = 300) -> None:
    records = [record(i) for i in range(n)]
    resp = server.request("POST", f"/api/v1/models/{model}/predictions", {"records": records})
    assert resp.status == 200, resp.body


def test_upload_then_drift_of_a_range(server: ServerProcess, model: str) -> None:
    _load(server, model)
    missing = server.request("GET", f"/api/v1/models/{model}/drift?{RANGE}")
    assert missing.status == 409
    assert "vigil reference upload FILE --model credit" in missing.body["error"]
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(_reference(), preserve_index=False), buffer)
    put = server.request(
        "PUT",
        f"/api/v1/models/{model}/reference?name=train.parquet",
        raw=buffer.getvalue(),
        content_type="application/vnd.apache.parquet",
    )
    assert put.status == 200, put.body
    assert put.body["reference"]["rows"] == 400 and put.body["reference"]["labelled"] == 400
    resp = server.request("GET", f"/api/v1/models/{model}/drift?{RANGE}")
    assert resp.status == 200, resp.body
    body = resp.body
    for key in ("reference", "drift_share", "dataset_drift", "features", "prediction"):
        assert key in body
    assert set(body["multivariate"]) >= {"roc_auc", "threshold", "drifted", "top_features"}
    assert body["reference"]["description"] == "train.parquet"
    by_name = {f["feature"]: f for f in body["features"]}
    assert set(by_name) == {"age", "income", "region"}
    for feature in body["features"]:
        assert set(feature) >= {"feature", "kind", "method", "score", "threshold", "drifted"}
    # Every logged region is "north", the reference is half south: region drifted.
    assert by_name["region"]["drifted"] is True
    assert body["rows"] == 300
    listed = server.request("GET", f"/api/v1/models/{model}/reference")
    assert listed.body["reference"]["id"] == put.body["reference"]["id"]
    report = server.request("GET", f"/api/v1/models/{model}/drift/report?{RANGE}", timeout=120)
    assert report.status == 200
    assert "Vigil drift report: model credit" in report.body
    assert "300 of 300 rows" in report.body


def test_a_range_of_predictions_as_reference_and_bad_requests(
    server: ServerProcess, model: str
) -> None:
    _load(server, model)
    end = START + timedelta(seconds=150)
    put = server.request(
        "PUT",
        f"/api/v1/models/{model}/reference?version=1",
        {"range": {"start": START.isoformat(), "end": end.isoformat()}},
    )
    assert put.status == 200, put.body
    assert put.body["reference"]["source"] == "range"
    assert put.body["reference"]["rows"] == 150 and put.body["reference"]["version"] == "1"
    bad = {
        "/drift?start=yesterday&end=2026-01-01": (400, "start='yesterday' is not an ISO-8601"),
        f"/drift?{RANGE}&window=1h": (400, "unknown query parameter window"),
        "/drift?start=2026-01-02&end=2026-01-01": (400, "must be after start"),
        f"/drift/windows?{RANGE}&window=1w": (400, "stored per 1h and 1d window"),
    }
    for path, (status, message) in bad.items():
        resp = server.request("GET", f"/api/v1/models/{model}{path}")
        assert resp.status == status, (path, resp.body)
        assert message in resp.body["error"]
    refusals = [
        (b'{"records": [{"age": "old"}]}', "application/json", "numeric in the model"),
        (b'{"records": [{"customer": 1}]}', "application/json", "'customer' are not features"),
        (
            b'{"range": {"start": "2020-01-01", "end": "2020-01-02"}}',
            "application/json",
            "no predictions",
        ),
        (b"garbage", "application/vnd.apache.parquet", "not a valid"),
    ]
    for raw, kind, message in refusals:
        resp = server.request(
            "PUT", f"/api/v1/models/{model}/reference", raw=raw, content_type=kind
        )
        assert resp.status == 422, resp.body
        assert message in resp.body["error"]
    assert server.request("GET", "/api/v1/models/nope/drift?" + RANGE).status == 404
    assert server.request("GET", f"/api/v1/models/{model}/drift?{RANGE}", token=None).status == 401
    # Still up, and the range reference is the one in use for version 1.
    listed = server.request("GET", f"/api/v1/models/{model}/reference?version=1")
    assert listed.body["reference"]["source"] == "range"


def test_rejections_are_counted_by_reason(server: ServerProcess, model: str) -> None:
    _load(server, model, 10)
    _load(server, model, 10)  # the same ten again: duplicates
    bad = [record(100, features={"age": "x"}), record(101, timestamp="soon")]
    resp = server.request("POST", f"/api/v1/models/{model}/predictions", {"records": bad})
    assert resp.status == 422
    now = datetime.now(UTC)
    low, high = now - timedelta(hours=2), now + timedelta(hours=1)
    span = f"start={low:%Y-%m-%dT%H:%M:%SZ}&end={high:%Y-%m-%dT%H:%M:%SZ}"
    deadline = time.monotonic() + 10
    while True:
        quality = server.request("GET", f"/api/v1/models/{model}/quality?{span}")
        counts = {r["reason"]: r["count"] for r in quality.body["rejections"]}
        if len(counts) == 3 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert counts == {
        "duplicate_event_id": 10,
        "invalid:features.age": 1,
        "invalid:timestamp": 1,
    }


def test_cli_upload_and_list(server: ServerProcess, model: str, tmp_path: Path) -> None:
    path = tmp_path / "train.csv"
    _reference(120).to_csv(path, index=False)
    env = {**os.environ, "VIGIL_API_TOKEN": server.token, "VIGIL_URL": server.url}
    cli = [sys.executable, "-m", "dashboard.cli", "reference"]
    done = subprocess.run(
        [*cli, "upload", str(path), "--model", model, "--version", "2"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "120 rows, 4 columns" in done.stderr
    assert f"of model {model} for version 2: 120 rows (120 labelled)" in done.stdout
    listing = subprocess.run(
        [*cli, "list", "--model", model],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert "version 2" not in listing.stdout.splitlines()[0] or "train.csv" in listing.stdout
    assert "train.csv" in listing.stdout
    wrong = subprocess.run(
        [*cli, "upload", str(path), "--model", "nope"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert wrong.returncode != 0 and "(404)" in wrong.stderr and "not registered" in wrong.stderr
    no_token = {k: v for k, v in env.items() if not k.startswith("VIGIL_API_TOKEN")}
    refused = subprocess.run(
        [*cli, "list", "--model", model],
        capture_output=True,
        text=True,
        env=no_token,
        timeout=60,
        check=False,
    )
    assert refused.returncode != 0 and "set VIGIL_API_TOKEN" in refused.stderr


def test_spool_reference_folder(server: ServerProcess, model: str) -> None:
    folder = server.db.parent / "spool" / model / "reference"
    folder.mkdir(parents=True)
    _reference(80).to_parquet(folder / "version=3__train.parquet")
    (folder / "broken.json").write_text(json.dumps([{"age": "old"}]))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if (folder / "done").exists() and (folder / "quarantine").exists():
            break
        time.sleep(0.3)
    assert (folder / "done" / "version=3__train.parquet").exists()
    reason = (folder / "quarantine" / "broken.json.error.txt").read_text()
    assert "numeric in the model" in reason
    listed = server.request("GET", f"/api/v1/models/{model}/reference?version=3")
    assert listed.body["reference"]["rows"] == 80
    assert listed.body["reference"]["version"] == "3"


def test_the_drift_job_stores_windows_the_api_serves(tmp_path: Path) -> None:
    from tests.integration.conftest import FEATURES
    from tests.integration.server import start_server

    config = tmp_path / "vigil.toml"
    config.write_text("[server]\ndrift_interval_s = 0.5\ndrift_lookback_days = 3650\n")
    server = start_server(tmp_path / "vigil.duckdb", config=config)
    try:
        model = "credit"
        reg = {"task": "binary", "features": FEATURES}
        assert server.request("PUT", f"/api/v1/models/{model}", reg).status == 200
        _load(server, model)
        frame = _reference().drop(columns="label")
        records = json.loads(frame.to_json(orient="records"))
        put = server.request("PUT", f"/api/v1/models/{model}/reference", {"records": records})
        assert put.status == 200, put.body
        query = f"/api/v1/models/{model}/drift/windows?{RANGE}&window=1h"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            body = server.request("GET", query).body
            if body["windows"]:
                break
            time.sleep(0.3)
        window = body["windows"][0]
        assert window["rows"] == 300 and window["reference_id"] == put.body["reference"]["id"]
        assert window["window_start"].startswith("2025-11-24T16:00:00")
        roles = {(r["role"], r["feature"]) for r in body["results"]}
        # The reference has no predictions or labels: features only.
        assert roles == {("feature", "age"), ("feature", "income"), ("feature", "region")}
        quality = server.request("GET", f"/api/v1/models/{model}/quality?{RANGE}&window=1h")
        rows = {r["feature"]: r for r in quality.body["quality"]}
        assert rows["region"]["rows"] == 300 and rows["region"]["constant"] is True
        assert rows["age"]["missing"] == 0 and rows["age"]["out_of_range"] == 0
    finally:
        server.stop()
