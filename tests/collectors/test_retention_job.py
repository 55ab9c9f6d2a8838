"""The retention job on a real DuckDB store: per model, exactly what is older than its
limits goes, the audit log says how much, and models without limits are untouched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

from collectors.access import AccessService
from collectors.auth_settings import Retention
from collectors.ingest import IngestService
from collectors.retention_job import RetentionJob
from collectors.settings import ModelSettings, Settings
from storage import Store, Writer

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
FEATURES = {"x": "numeric"}


def _load(ingest: IngestService, model: str) -> pd.DataFrame:
    ingest.register(model, {"task": "binary", "positive_class": 1, "features": FEATURES})
    times = [NOW - timedelta(days=d, hours=h) for d in range(0, 30) for h in (0, 7, 13)]
    records = [
        {
            "event_id": f"{model}-{i}",
            "timestamp": t.isoformat(),
            "version": "1",
            "prediction": i % 2,
            "features": {"x": float(i)},
        }
        for i, t in enumerate(times)
    ]
    ingest.predictions(model, records)
    labels = [{"event_id": r["event_id"], "label": 1, "timestamp": r["timestamp"]} for r in records]
    ingest.labels(model, labels)
    return pd.DataFrame({"event_id": [r["event_id"] for r in records], "ts": times})


def test_retention_deletes_exactly_what_is_older_than_the_limit(
    store: Store, writer: Writer, ingest: IngestService
) -> None:
    kept = _load(ingest, "kept")
    short = _load(ingest, "short")
    # A prediction exactly at the cutoff stays: the limit is "older than".
    ingest.predictions(
        "short",
        [
            {
                "event_id": "at-cutoff",
                "timestamp": (NOW - timedelta(days=10)).isoformat(),
                "version": "1",
                "prediction": 1,
                "features": {"x": 0.0},
            }
        ],
    )
    settings = Settings(
        db=store.path,
        models={"short": ModelSettings(retention=Retention(predictions_days=10, labels_days=4))},
    )
    access = AccessService(store, writer, settings, clock=lambda: NOW)
    done = RetentionJob(access).run_once(NOW)

    expected_predictions = int((short.ts < NOW - timedelta(days=10)).sum())
    expected_labels = int((short.ts < NOW - timedelta(days=4)).sum())
    assert done["short"].predictions == expected_predictions > 0
    assert done["short"].labels == expected_labels > expected_predictions
    assert "kept" not in done
    con = store.cursor()
    left = con.execute("SELECT min(ts), count(*) FROM predictions_2").fetchone()
    assert left is not None
    assert left[0] == NOW - timedelta(days=10)  # the row at the cutoff
    assert left[1] == len(short) - expected_predictions + 1
    assert con.execute("SELECT count(*) FROM predictions_1").fetchone() == (len(kept),)
    labelled = con.execute("SELECT count(*) FROM predictions_2 WHERE label IS NOT NULL").fetchone()
    assert labelled == (len(short) - expected_labels,)
    audit = access.audit_entries(action="retention")
    assert list(audit.target) == ["short"]
    assert f'"predictions": {expected_predictions}' in audit.detail.iloc[0]
    # A second run finds nothing more and records nothing.
    again = RetentionJob(access).run_once(NOW)
    assert again["short"].predictions == 0 and again["short"].labels == 0
    assert len(access.audit_entries(action="retention")) == 1
