"""Model artifacts and explanations through the real server: the API, `vigil model
register`, bad uploads, and the on-demand explanation of one prediction."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.ensemble import GradientBoostingClassifier

from tests.integration.conftest import FEATURES, record
from tests.integration.server import ServerProcess


def _model() -> GradientBoostingClassifier:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"age": rng.uniform(30, 70, 300), "income": rng.uniform(0, 90_000, 300)})
    target = (frame["income"] > 45_000).astype(int)
    return GradientBoostingClassifier(n_estimators=20, random_state=0).fit(frame, target)


def test_register_then_explain_one_prediction(server: ServerProcess, tmp_path: Path) -> None:
    reg = {
        "task": "binary",
        "positive_class": 1,
        "features": {"age": "numeric", "income": "numeric"},
    }
    assert server.request("PUT", "/api/v1/models/credit", reg).status == 200
    records = [
        record(i, features={"age": 30 + i % 40, "income": 1000.0 * (i % 90)}) for i in range(50)
    ]
    assert (
        server.request("POST", "/api/v1/models/credit/predictions", {"records": records}).status
        == 200
    )
    missing = server.request("GET", "/api/v1/models/credit/explanations/e3")
    assert missing.status == 409 and "vigil model register FILE" in missing.body["error"]
    model = _model()
    path = tmp_path / "model.joblib"
    joblib.dump(model, path)
    env = {**os.environ, "VIGIL_API_TOKEN": server.token, "VIGIL_URL": server.url}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "dashboard.cli",
            "model",
            "register",
            str(path),
            "--model",
            "credit",
            "--version",
            "1",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "tree explainer, attributions in log-odds" in done.stdout
    listed = server.request("GET", "/api/v1/models/credit/artifacts").body["artifacts"]
    assert [a["version"] for a in listed] == ["1"]
    resp = server.request("GET", "/api/v1/models/credit/explanations/e7")
    assert resp.status == 200, resp.body
    body = resp.body
    assert set(body) >= {
        "event_id",
        "version",
        "output",
        "base_value",
        "units",
        "attributions",
        "features",
    }
    row = pd.DataFrame([{"age": 37.0, "income": 7000.0}])
    assert body["features"] == {"age": 37.0, "income": 7000.0}
    assert body["output"] == pytest_approx(float(model.decision_function(row)[0]))
    assert body["base_value"] + sum(body["attributions"].values()) == pytest_approx(body["output"])
    assert server.request("GET", "/api/v1/models/credit/explanations/nope").status == 404
    importance = server.request(
        "GET", "/api/v1/models/credit/importance?start=2025-01-01&end=2027-01-01"
    )
    assert importance.status == 200 and importance.body["explained"] >= 1
    assert {f["feature"] for f in importance.body["features"]} == {"age", "income"}


def pytest_approx(value: float):
    import pytest

    return pytest.approx(value, abs=1e-6)


def test_bad_artifacts_and_requests(server: ServerProcess, model: str) -> None:
    buffer = io.BytesIO()
    joblib.dump({"not": "a model"}, buffer)
    cases = [
        (b"", "empty"),
        (b"garbage", "cannot be loaded with joblib"),
        (buffer.getvalue(), "is a dict, not a model"),
    ]
    for body, message in cases:
        resp = server.request(
            "PUT",
            f"/api/v1/models/{model}/versions/1/artifact",
            raw=body,
            content_type="application/octet-stream",
        )
        assert resp.status == 422, resp.body
        assert message in resp.body["error"]
    unauthenticated = server.request(
        "PUT",
        f"/api/v1/models/{model}/versions/1/artifact",
        raw=b"x",
        token=None,
        content_type="application/octet-stream",
    )
    assert unauthenticated.status == 401
    bad_segment = server.request(
        "GET", f"/api/v1/models/{model}/importance?start=2025-01-01&end=2026-01-01&segment=x"
    )
    assert bad_segment.status == 400 and "NAME:VALUE" in bad_segment.body["error"]
    assert server.request("GET", f"/api/v1/models/{model}/artifacts").body == {"artifacts": []}
    assert set(FEATURES) == {"age", "income", "region"}
