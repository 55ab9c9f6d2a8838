"""PII features (`pii = true`) at the service level, on a real DuckDB store: the stakeholder
report, the Evidently drift report and the Parquet export built for a reader who may not
see PII hold none of a distinctive customer_id value; built for an admin, the Evidently
report and the export do. Also the pure masking helpers of monitoring.pii.

The model and records here are shared with tests/integration/test_pii_api.py and
tests/dashboard/test_pii_pages.py.
"""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from collectors.drift_job import DriftJob
from collectors.drift_service import DriftService
from collectors.http_api import ApiError
from collectors.ingest import IngestService
from collectors.report_api import export_hidden, include_pii, report_bytes
from collectors.report_data import gather
from collectors.settings import ModelSettings, Settings
from monitoring.access import MASK, Principal, Role
from monitoring.pii import (
    hidden_for,
    mask_columns,
    mask_explanation,
    mask_long_rows,
    segment_refusal,
    without_dimensions,
)
from monitoring.report import render_html

MODEL = "credit"
PII = "customer_id"
PII_VALUE = "CUST-9f3a-XYZ"  # distinctive: appears nowhere but in customer_id's values
CUSTOMERS = (PII_VALUE, "CUST-1b2c-QRS", "CUST-7d8e-LMN")
SCHEMA: dict[str, Any] = {
    "task": "binary",
    "positive_class": 1,
    "features": {"age": "numeric", "income": "numeric", PII: "categorical"},
}
T0 = datetime(2026, 3, 2, tzinfo=UTC)
DAYS = 3
PER_DAY = 40
CONFIG = f"[models.{MODEL}.features.{PII}]\npii = true\n"

VIEWER = Principal("ana", "user", role=Role.VIEWER)
EDITOR = Principal("eve", "user", role=Role.EDITOR)
ADMIN = Principal("root", "user", role=Role.ADMIN)
READ_TOKEN = Principal("dash", "token", scope="read")


def applicants(n: int, seed: int = 0) -> pd.DataFrame:
    """age, income and customer_id; the outcome follows income."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.uniform(20, 70, n).round(1),
            "income": rng.uniform(0, 90_000, n).round(0),
            PII: [CUSTOMERS[i % len(CUSTOMERS)] for i in range(n)],
        }
    )


def fitted_model() -> Pipeline:
    """A pipeline that one-hot encodes customer_id, as a real model might (and should not)."""
    frame = applicants(300, seed=1)
    target = (frame["income"] > 45_000).astype(int)
    encode = ColumnTransformer(
        [("customer", OneHotEncoder(handle_unknown="ignore", sparse_output=False), [PII])],
        remainder="passthrough",
    )
    boost = GradientBoostingClassifier(n_estimators=20, random_state=0)
    return Pipeline([("encode", encode), ("model", boost)]).fit(frame, target)


def records(days: int = DAYS, per_day: int = PER_DAY) -> list[dict[str, Any]]:
    """Predictions over `days` days from T0 (event ids p0, p1, ...), with labels inline."""
    frame = applicants(days * per_day, seed=2)
    out = []
    for i, row in frame.iterrows():
        index = int(str(i))
        truth = int(row["income"] > 45_000)
        out.append(
            {
                "event_id": f"p{index}",
                "timestamp": (T0 + timedelta(minutes=index * (1440 // per_day))).isoformat(),
                "version": "1",
                "prediction": truth if index % 5 else 1 - truth,
                "score": 0.8 if truth else 0.2,
                "latency_ms": 5.0,
                "features": {"age": row["age"], "income": row["income"], PII: row[PII]},
            }
        )
    return out


def labels(recs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"event_id": r["event_id"], "label": int(r["features"]["income"] > 45_000)} for r in recs
    ]


def reference() -> pd.DataFrame:
    """The training sample: the features and the model's outputs."""
    frame = applicants(200, seed=3)
    frame["prediction"] = (frame["income"] > 45_000).astype(int)
    return frame


def pii_settings(**extra: Any) -> Settings:
    return Settings(models={MODEL: ModelSettings(pii=frozenset({PII}))}, **extra)


@pytest.fixture
def drift(ingest: IngestService) -> DriftService:
    ingest.register(MODEL, SCHEMA)
    recs = records()
    ingest.predictions(MODEL, recs)
    ingest.labels(MODEL, labels(recs))
    service = DriftService(ingest, pii_settings())
    service.upload_reference(MODEL, reference(), None, "train")
    DriftJob(service, granularities=("1d",)).run_once(T0 + timedelta(days=DAYS, hours=1))
    return service


def _report_text(drift: DriftService, data_format: str, hidden: Any) -> bytes:
    model = drift.ingest.model(MODEL)
    con = drift.ingest.store.cursor()
    end = T0 + timedelta(days=DAYS)
    return report_bytes(
        con, drift.settings, model, T0, end, None, data_format, "test", "a4", hidden
    )


def _zip_text(body: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        return "\n".join(archive.read(n).decode() for n in archive.namelist())


def test_the_report_shows_pii_features_by_name_never_by_value(drift: DriftService) -> None:
    """The report holds feature names and aggregates only: no reader sees a value, and the
    PII feature is still reported on (drift, quality) for a viewer."""
    model = drift.ingest.model(MODEL)
    con = drift.ingest.store.cursor()
    end = T0 + timedelta(days=DAYS)
    for hidden in (frozenset({PII}), frozenset()):
        data = gather(con, drift.settings, model, T0, end, None, "test", hidden)
        assert PII in set(data.drift_features["feature"]) and PII in set(data.quality["feature"])
        html = render_html(data)
        assert PII in html and PII_VALUE not in html
        assert PII_VALUE not in _zip_text(_report_text(drift, "csv", hidden))


def test_evidently_report_leaves_pii_out_unless_the_reader_sees_it(drift: DriftService) -> None:
    end = T0 + timedelta(days=DAYS)
    admin = drift.evidently_report(MODEL, T0, end, None, frozenset())
    assert PII_VALUE in admin  # the oracle: Evidently does draw customer_id's categories
    for hidden in (frozenset({PII}), None):  # None: the model's PII features
        page = drift.evidently_report(MODEL, T0, end, None, hidden)
        assert PII_VALUE not in page
        assert f"left out as PII: {PII}" in page
        assert "income" in page


def test_parquet_export_drops_pii_columns_unless_asked(drift: DriftService) -> None:
    default = pq.read_table(io.BytesIO(_report_text(drift, "parquet", None)))
    assert PII not in default.column_names and {"age", "income"} <= set(default.column_names)
    assert default.num_rows == DAYS * PER_DAY
    full = pq.read_table(io.BytesIO(_report_text(drift, "parquet", frozenset())))
    assert PII_VALUE in set(full.column(PII).to_pylist())


def test_export_rules_by_caller() -> None:
    pii = frozenset({PII})
    assert export_hidden(VIEWER, MODEL, pii, "html", False) == pii
    assert export_hidden(READ_TOKEN, MODEL, pii, "csv", False) == pii
    assert export_hidden(EDITOR, MODEL, pii, "pdf", False) == frozenset()
    assert export_hidden(EDITOR, MODEL, pii, "parquet", False) == pii
    assert export_hidden(ADMIN, MODEL, pii, "parquet", False) == pii
    assert export_hidden(ADMIN, MODEL, pii, "parquet", True) == frozenset()
    for who in (VIEWER, READ_TOKEN):
        with pytest.raises(ApiError) as refused:
            export_hidden(who, MODEL, pii, "parquet", False)
        assert refused.value.status == 403 and "needs edit access" in refused.value.message
    with pytest.raises(ApiError) as refused:
        export_hidden(EDITOR, MODEL, pii, "parquet", True)
    assert refused.value.status == 403 and "only admins may export PII" in refused.value.message
    limited = Principal("ci", "token", scope="admin", model="other")
    with pytest.raises(ApiError):
        export_hidden(limited, MODEL, pii, "parquet", False)
    assert include_pii({"include_pii": "true"}) and not include_pii({})
    with pytest.raises(ApiError, match="use true or false"):
        include_pii({"include_pii": "yes please"})


def test_masking_helpers() -> None:
    assert hidden_for(VIEWER, {PII}) == hidden_for(READ_TOKEN, {PII}) == {PII}
    assert hidden_for(None, {PII}) == {PII}
    assert hidden_for(EDITOR, {PII}) == hidden_for(ADMIN, {PII}) == frozenset()
    payload = {"attributions": {PII: 0.3, "age": -0.1}, "features": {PII: PII_VALUE, "age": 40}}
    masked = mask_explanation(payload, {PII})
    assert masked["features"] == {PII: MASK, "age": 40}
    assert masked["attributions"] == payload["attributions"]
    assert payload["features"][PII] == PII_VALUE  # the original is left alone
    assert mask_explanation(payload, frozenset()) == payload
    rows = pd.DataFrame(
        {
            "feature": [PII, "age", PII],
            "attribution": [0.1, 0.2, 0.3],
            "value_num": [np.nan, 40.0, np.nan],
            "value_text": [PII_VALUE, "40", None],
        }
    )
    out = mask_long_rows(rows, {PII})
    assert out["value_text"].tolist()[:2] == [MASK, "40"] and pd.isna(out["value_text"].iloc[2])
    assert out["value_num"].iloc[1] == 40.0 and out["attribution"].tolist() == [0.1, 0.2, 0.3]
    refusal = segment_refusal(PII, {PII})
    assert refusal is not None and "customer_id is marked PII" in refusal
    assert segment_refusal("tag:channel", {PII}) is None
    worst = pd.DataFrame({"dimension": [PII, "tag:channel"], "value": [PII_VALUE, "web"]})
    assert without_dimensions(worst, {PII})["value"].tolist() == ["web"]
    # A report table with a column named after a hidden feature (none has one today).
    frame = pd.DataFrame({PII: [PII_VALUE, None], "rows": [3, 4]})
    table = mask_columns(frame, {PII})
    assert table[PII].iloc[0] == MASK and pd.isna(table[PII].iloc[1])
    assert table["rows"].tolist() == [3, 4]
