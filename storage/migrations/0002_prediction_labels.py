"""Labels move next to their predictions: label columns on every predictions table.

Pages then read labelled predictions in one scan instead of joining millions of labels on
event_id at every load. The labels table stays the record of what arrived;
pending_labels lists those whose prediction has not arrived yet.
"""

from __future__ import annotations

import duckdb

from storage.identifiers import predictions_table, quote

LABEL_COLUMNS = {
    "label": "VARCHAR",
    "label_value": "DOUBLE",
    "label_ts": "TIMESTAMPTZ",
    "labelled_at": "TIMESTAMPTZ",  # when the copy was written: a changed label shows
}


def apply(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "CREATE TABLE pending_labels ("
        "model_id INTEGER NOT NULL, event_id VARCHAR NOT NULL, PRIMARY KEY (model_id, event_id))"
    )
    for (model_id,) in con.execute("SELECT id FROM models ORDER BY id").fetchall():
        table = quote(predictions_table(int(model_id)))
        for column, kind in LABEL_COLUMNS.items():
            con.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
        con.execute(
            f"UPDATE {table} p SET label = l.label, label_value = l.label_value, label_ts = l.ts, "
            "labelled_at = l.received_at "
            "FROM labels l WHERE l.model_id = ? AND l.event_id = p.event_id",
            [model_id],
        )
        con.execute(
            "INSERT INTO pending_labels SELECT l.model_id, l.event_id FROM labels l "
            f"WHERE l.model_id = ? AND NOT EXISTS "
            f"(SELECT 1 FROM {table} p WHERE p.event_id = l.event_id)",
            [model_id],
        )
