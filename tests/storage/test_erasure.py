"""storage.erasure on a real DuckDB file: a subject's rows go from every table that copies them.

Data goes in through the real IngestService; explanations and references through their
storage writers. Expected counts come from the same records kept in Python.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from collectors.ingest import IngestService
from storage import ModelInfo, Store, Writer
from storage.erasure import (
    Erased,
    clear_purge,
    erase_events,
    erase_matching,
    mark_purge_needed,
    purge_needed,
)
from storage.explanations import insert_explanations
from storage.references import create_reference, reference_from_range

T0 = datetime(2026, 11, 18, 7, tzinfo=UTC)
N = 20
SUBJECT = "SUBJ-1"
LABELLED = {i for i in range(N) if i % 3 != 0}
EXPLAINED = set(range(10))
IN_RANGE = set(range(10))  # the range reference copies predictions 0-9


def customer(i: int) -> str:
    return SUBJECT if i % 4 == 1 else f"c{i}"


def x(i: int) -> float:
    return 42.0 if i in (2, 3) else i + 0.5


def account(i: int) -> str:
    return f"acct-{i % 3}"


def load(ingest: IngestService, writer: Writer) -> ModelInfo:
    """20 predictions, labels (one waiting for its prediction), explanations, 2 references."""
    features = {"x": "numeric", "customer": "categorical"}
    ingest.register("m", {"task": "binary", "positive_class": "1", "features": features})
    ingest.predictions(
        "m",
        [
            {
                "event_id": f"e{i}",
                "timestamp": (T0 + timedelta(minutes=i)).isoformat(),
                "version": "1",
                "features": {"x": x(i), "customer": customer(i)},
                "prediction": str(i % 2),
                "tags": {"account": account(i)},
            }
            for i in range(N)
        ],
    )
    labels = [
        {"event_id": f"e{i}", "label": "1", "timestamp": (T0 + timedelta(hours=1)).isoformat()}
        for i in sorted(LABELLED)
    ]
    labels.append({"event_id": "e99", "label": "0", "timestamp": T0.isoformat()})
    ingest.labels("m", labels)
    model = ingest.model("m")
    explained = pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in sorted(EXPLAINED)],
            "ts": [T0 + timedelta(minutes=i) for i in sorted(EXPLAINED)],
            "version": "1",
            "sha256": "ab" * 32,
            "base_value": 0.1,
            "output": 0.2,
            "units": "log-odds",
            "explained_class": "1",
            "x": 0.3,
            "customer": 0.4,
        }
    )
    writer.run(lambda con: insert_explanations(con, model, explained))
    end = T0 + timedelta(minutes=len(IN_RANGE))
    writer.run(lambda con: reference_from_range(con, model, T0, end, version=None))
    upload = pa.table(
        {
            "x": [42.0, 1.0, 2.0, 3.0],
            "customer": [SUBJECT, SUBJECT, "u1", "u2"],
            "@prediction": ["1", "0", "1", "0"],
        }
    )
    writer.run(lambda con: create_reference(con, model, upload, version=None, description="u"))
    return model


def snapshot(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every row that erasure may touch, sorted."""
    con = store.cursor()
    tables = ["predictions_1", "labels", "pending_labels", "explanations_1"]
    tables += ["reference_1", "reference_2"]
    return {t: sorted(con.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in tables}


def without(rows: list[tuple[Any, ...]], gone: set[str], position: int) -> list[tuple[Any, ...]]:
    return [r for r in rows if r[position] not in gone]


def test_erase_events_deletes_every_copy_of_those_events(
    store: Store, writer: Writer, ingest: IngestService
) -> None:
    model = load(ingest, writer)
    before = snapshot(store)
    ids = ["e1", "e2", "e99", "unknown", "e1"]
    erased = writer.run(lambda con: erase_events(con, model, ids))
    # e1, e2 predictions; labels of e1, e2 and e99 (waiting for its prediction); explanations
    # of e1, e2; and the range reference's copies of e1 and e2 (matched on what was copied).
    assert erased == Erased(predictions=2, labels=3, explanations=2, reference_rows=2)
    assert erased.total == 9
    assert erased.as_dict() == {
        "predictions": 2,
        "labels": 3,
        "explanations": 2,
        "reference_rows": 2,
        "total": 9,
    }
    after = snapshot(store)
    gone = {"e1", "e2", "e99"}
    assert after["predictions_1"] == without(before["predictions_1"], gone, 0)
    assert after["labels"] == without(before["labels"], gone, 1)
    assert after["pending_labels"] == []
    assert after["explanations_1"] == without(before["explanations_1"], gone, 0)
    copies = {(1.5, SUBJECT, "1"), (42.0, "c2", "0")}  # e1's and e2's features and prediction
    assert after["reference_1"] == [r for r in before["reference_1"] if r[:3] not in copies]
    assert after["reference_2"] == before["reference_2"]  # an upload has no event ids
    assert writer.run(lambda con: erase_events(con, model, ids)) == Erased()
    assert writer.run(lambda con: erase_events(con, model, [])) == Erased()
    with pytest.raises(ValueError, match="list of ids"):
        erase_events(store.cursor(), model, "e3")


def test_erase_matching_a_category_reaches_references_with_that_value(
    store: Store, writer: Writer, ingest: IngestService
) -> None:
    model = load(ingest, writer)
    before = snapshot(store)
    erased = writer.run(lambda con: erase_matching(con, model, "customer", SUBJECT))
    subject = {i for i in range(N) if customer(i) == SUBJECT}
    assert erased == Erased(
        predictions=len(subject),
        labels=len(subject & LABELLED),
        explanations=len(subject & EXPLAINED),
        reference_rows=len(subject & IN_RANGE) + 2,  # two uploaded rows hold the value
    )
    after = snapshot(store)
    gone = {f"e{i}" for i in subject}
    assert after["predictions_1"] == without(before["predictions_1"], gone, 0)
    assert after["labels"] == without(before["labels"], gone, 1)
    assert after["explanations_1"] == without(before["explanations_1"], gone, 0)
    for table in ("reference_1", "reference_2"):
        assert after[table] == [r for r in before[table] if r[1] != SUBJECT]
    dump = repr(store.cursor().execute("SELECT * FROM predictions_1").fetchall())
    assert SUBJECT not in dump


@pytest.mark.parametrize("value", ["42", "42.0", " 42 ", "4.2e1"])
def test_a_numeric_feature_matches_the_number_not_the_text(
    store: Store, writer: Writer, ingest: IngestService, value: str
) -> None:
    model = load(ingest, writer)
    erased = writer.run(lambda con: erase_matching(con, model, "x", value))
    # e2 and e3 hold 42.0 (only e2 is labelled) and are in the range reference; one
    # uploaded row holds 42.0.
    assert erased == Erased(predictions=2, labels=1, explanations=2, reference_rows=3)
    left = store.cursor().execute("SELECT count(*) FROM predictions_1 WHERE f_x = 42").fetchall()
    assert left == [(0,)]


def test_erase_matching_a_tag(store: Store, writer: Writer, ingest: IngestService) -> None:
    model = load(ingest, writer)
    before = snapshot(store)
    erased = writer.run(lambda con: erase_matching(con, model, "tag:account", "acct-1"))
    tagged = {i for i in range(N) if account(i) == "acct-1"}
    assert erased == Erased(
        predictions=len(tagged),
        labels=len(tagged & LABELLED),
        explanations=len(tagged & EXPLAINED),
        reference_rows=len(tagged & IN_RANGE),  # references have no tags: matched on copies
    )
    after = snapshot(store)
    assert after["predictions_1"] == without(before["predictions_1"], {f"e{i}" for i in tagged}, 0)
    assert after["reference_2"] == before["reference_2"]
    assert writer.run(lambda con: erase_matching(con, model, "tag:account", "none")) == Erased()


def test_nothing_matching_erases_nothing(
    store: Store, writer: Writer, ingest: IngestService
) -> None:
    model = load(ingest, writer)
    before = snapshot(store)
    assert writer.run(lambda con: erase_matching(con, model, "customer", "nobody")) == Erased()
    assert writer.run(lambda con: erase_matching(con, model, "x", "-1")) == Erased()
    assert snapshot(store) == before


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("email", "a@b", "has no feature 'email': use a feature \\(x, customer\\) or tag:<key>"),
        ("f_x", "1", "has no feature 'f_x'"),
        ("", "1", "Use a feature"),
        ("tag:", "1", "names no tag key"),
        ("tag:user", "1", "has the tag 'user'"),
        ("x", "forty-two", "is numeric: 'forty-two' is not a number"),
        ("x", "nan", "NaN"),
    ],
)
def test_bad_columns_and_values_are_refused_and_erase_nothing(
    store: Store, writer: Writer, ingest: IngestService, column: str, value: str, message: str
) -> None:
    model = load(ingest, writer)
    before = snapshot(store)
    with pytest.raises(ValueError, match=message):
        writer.run(lambda con: erase_matching(con, model, column, value))
    assert snapshot(store) == before


def test_values_are_bound_not_spliced(store: Store, writer: Writer, ingest: IngestService) -> None:
    model = load(ingest, writer)
    before = snapshot(store)
    hostile = "x' OR '1'='1"
    assert writer.run(lambda con: erase_matching(con, model, "customer", hostile)) == Erased()
    assert writer.run(lambda con: erase_events(con, model, [hostile])) == Erased()
    assert snapshot(store) == before


def test_a_model_without_explanations_or_references(
    store: Store, writer: Writer, ingest: IngestService
) -> None:
    ingest.register("plain", {"task": "regression", "features": {"x": "numeric"}})
    ingest.predictions(
        "plain",
        [{"event_id": "a", "timestamp": T0.isoformat(), "features": {"x": 1}, "prediction": 2.0}],
    )
    model = ingest.model("plain")
    assert writer.run(lambda con: erase_events(con, model, ["a"])) == Erased(predictions=1)


def test_the_purge_flag(store: Store, writer: Writer) -> None:
    con = store.cursor()
    assert not purge_needed(con)
    writer.run(lambda c: mark_purge_needed(c, T0))
    writer.run(lambda c: mark_purge_needed(c, T0 + timedelta(hours=1)))
    assert purge_needed(con)
    stored = con.execute("SELECT key, value, updated_at FROM maintenance").fetchall()
    assert stored == [("purge_needed", "true", T0 + timedelta(hours=1))]
    writer.run(clear_purge)
    assert not purge_needed(con)


def test_a_range_reference_loses_only_the_subjects_copy_of_an_identical_row(
    store: Store, writer: Writer, ingest: IngestService
) -> None:
    """Range references keep event_id, so a twin row of another person stays."""
    ingest.register(
        "twins", {"task": "binary", "positive_class": "1", "features": {"x": "numeric"}}
    )
    same = {"timestamp": T0.isoformat(), "features": {"x": 7.0}, "prediction": 1, "version": "1"}
    ingest.predictions("twins", [{"event_id": "subject", **same}, {"event_id": "twin", **same}])
    model = ingest.model("twins")
    reference = writer.run(
        lambda con: reference_from_range(con, model, T0, T0 + timedelta(hours=1), version=None)
    )
    erased = writer.run(lambda con: erase_events(con, model, ["subject"]))
    assert erased.reference_rows == 1 and erased.predictions == 1
    left = store.cursor().execute(f"SELECT event_id FROM reference_{reference.id}").fetchall()
    assert left == [("twin",)]
