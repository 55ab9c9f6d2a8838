"""PII through the real server: `vigil serve --config` with
`[models.credit.features.customer_id] pii = true`. A read-scope token (issued by the admin
API) gets customer_id masked in explanations, no customer_id values in the Evidently report,
refused segments by customer_id, a refused Parquet export (raw data needs edit) and a
refused include_pii; the admin token's Parquet export leaves customer_id out unless it
asks with include_pii=true. Exports are in the audit log either way."""

from __future__ import annotations

import io
import signal
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import joblib
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from monitoring.access import MASK
from tests.collectors.test_pii import (
    CONFIG,
    DAYS,
    MODEL,
    PII,
    PII_VALUE,
    SCHEMA,
    T0,
    fitted_model,
    labels,
    records,
    reference,
)
from tests.integration.server import ServerProcess, start_server

END = T0 + timedelta(days=DAYS)
RANGE = f"start={quote(T0.isoformat())}&end={quote(END.isoformat())}"
EVENT = "p3"  # customer_id CUST-9f3a-XYZ (every third record)


@pytest.fixture(scope="module")
def pii_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root: Path = tmp_path_factory.mktemp("pii_api")
    config = root / "vigil.toml"
    config.write_text(CONFIG, encoding="utf-8")
    server = start_server(root / "vigil.duckdb", config=config)
    try:
        _load(server)
        yield server
    finally:
        if server.proc.poll() is None:
            server.stop(signal.SIGKILL)


def _load(server: ServerProcess) -> None:
    """The model, its predictions and labels, an artifact and a reference (admin token)."""
    assert server.request("PUT", f"/api/v1/models/{MODEL}", SCHEMA).status == 200
    recs = records()
    assert recs[3]["features"][PII] == PII_VALUE
    posted = server.request("POST", f"/api/v1/models/{MODEL}/predictions", {"records": recs})
    assert posted.status == 200, posted.body
    assert server.request(
        "POST", f"/api/v1/models/{MODEL}/labels", {"records": labels(recs)}
    ).status in (200, 202)
    buffer = io.BytesIO()
    joblib.dump(fitted_model(), buffer)
    artifact = server.request(
        "PUT",
        f"/api/v1/models/{MODEL}/versions/1/artifact",
        raw=buffer.getvalue(),
        content_type="application/octet-stream",
    )
    assert artifact.status == 200, artifact.body
    table = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(reference(), preserve_index=False), table)
    put = server.request(
        "PUT",
        f"/api/v1/models/{MODEL}/reference?name=train.parquet",
        raw=table.getvalue(),
        content_type="application/vnd.apache.parquet",
    )
    assert put.status == 200, put.body


@pytest.fixture(scope="module")
def read_token(pii_server: ServerProcess) -> str:
    issued = pii_server.request("POST", "/api/v1/tokens", {"name": "dashboards", "scope": "read"})
    assert issued.status == 200, issued.body
    return str(issued.body["token"])


def _parquet(server: ServerProcess, path: str) -> pa.Table:
    """A Parquet export as a table (ServerProcess.request decodes bodies as text)."""
    req = urllib.request.Request(server.url + path)
    req.add_header("Authorization", f"Bearer {server.token}")
    with urllib.request.urlopen(req, timeout=60) as resp:
        assert resp.status == 200
        return pq.read_table(io.BytesIO(resp.read()))


def test_explanations_mask_pii_values_for_a_read_token(
    pii_server: ServerProcess, read_token: str
) -> None:
    path = f"/api/v1/models/{MODEL}/explanations/{EVENT}"
    admin = pii_server.request("GET", path)
    assert admin.status == 200, admin.body
    assert admin.body["features"][PII] == PII_VALUE
    reader = pii_server.request("GET", path, token=read_token)
    assert reader.status == 200, reader.body
    assert reader.body["features"][PII] == MASK
    assert reader.body["features"]["income"] == admin.body["features"]["income"]
    assert reader.body["attributions"] == admin.body["attributions"]
    segment = f"/api/v1/models/{MODEL}/importance?{RANGE}&segment={PII}:{quote(PII_VALUE)}"
    refused = pii_server.request("GET", segment, token=read_token)
    assert refused.status == 403 and "customer_id is marked PII" in refused.body["error"]
    assert pii_server.request("GET", segment).status == 200


def test_evidently_report_leaves_pii_out_for_a_read_token(
    pii_server: ServerProcess, read_token: str
) -> None:
    path = f"/api/v1/models/{MODEL}/drift/report?{RANGE}"
    reader = pii_server.request("GET", path, token=read_token, timeout=180)
    assert reader.status == 200
    assert PII_VALUE not in reader.body and f"left out as PII: {PII}" in reader.body
    admin = pii_server.request("GET", path, timeout=180)
    assert admin.status == 200 and PII_VALUE in admin.body


def test_exports_by_scope(pii_server: ServerProcess, read_token: str) -> None:
    base = f"/api/v1/models/{MODEL}/report?{RANGE}"
    refused = pii_server.request("GET", f"{base}&format=parquet", token=read_token)
    assert refused.status == 403, refused.body
    assert "needs edit access" in refused.body["error"]
    asked = pii_server.request("GET", f"{base}&format=csv&include_pii=true", token=read_token)
    assert asked.status == 403 and "only admins may export PII" in asked.body["error"]
    html = pii_server.request("GET", f"{base}&format=html", token=read_token)
    assert html.status == 200 and PII_VALUE not in html.body
    table = _parquet(pii_server, f"{base}&format=parquet")
    assert PII not in table.column_names and "income" in table.column_names
    assert table.num_rows == len(records())
    full = _parquet(pii_server, f"{base}&format=parquet&include_pii=true")
    assert PII_VALUE in set(full.column(PII).to_pylist())
    audit = pii_server.request("GET", "/api/v1/audit?action=report.export")
    assert audit.status == 200, audit.body
    entries = [(e["actor"], e["outcome"], e["detail"]) for e in audit.body["entries"]]
    assert any(
        a == "token dashboards" and o == "failed (403)" and d["format"] == "parquet"
        for a, o, d in entries
    )
    assert any(o == "ok" and d["include_pii"] is True for _, o, d in entries)
