"""Alert storage on a real DuckDB file: migration, instances across restarts, the outbox and its
retry bookkeeping, silences, editor rules, history range queries and retention."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import pandas as pd
import pytest

from storage import Store, Writer
from storage import alert_definitions as defs
from storage import alerts as al

T = TypeVar("T")
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
ALERT_TABLES = {
    "alert_instances",
    "alert_transitions",
    "alert_outbox",
    "alert_deliveries",
    "silences",
    "alert_rules",
}


def _at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _write(writer: Writer, job: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
    """Run a write job on the writer thread, in its transaction, as the server does."""
    return writer.run(job, timeout=30)


def _instance(rule: str, model: str | None, state: str, **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {c: None for c in al.INSTANCE_COLUMNS}
    row.update({"rule": rule, "model": model, "state": state, "last_change": T0, **extra})
    return row


def _outbox_row(rule: str, status: str, queued: float, **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "group_key": f"{rule}/churn",
        "channel": "ops",
        "rule": rule,
        "model": "churn",
        "status": status,
        "payload": {"status": status, "rule": rule, "value": 1.5, "labels": {"team": "risk"}},
        "fired_at": T0,
        "queued_at": _at(queued),
    }
    row.update(extra)
    return row


def _columns(store: Store, table: str) -> list[str]:
    rows = (
        store.cursor()
        .execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
            "ORDER BY ordinal_position",
            [table],
        )
        .fetchall()
    )
    return [r[0] for r in rows]


# -- migration -----------------------------------------------------------------------------


def test_new_database_gets_the_alert_tables(store: Store) -> None:
    assert 3 in store.applied_migrations
    row = store.cursor().execute("SELECT name FROM schema_migrations WHERE version = 3").fetchall()
    assert row == [("alerts",)]
    assert _columns(store, "alert_instances") == list(al.INSTANCE_COLUMNS)
    assert _columns(store, "alert_transitions") == list(al.TRANSITION_COLUMNS)
    assert _columns(store, "alert_outbox") == list(al.OUTBOX_COLUMNS)
    assert _columns(store, "alert_deliveries") == list(al.DELIVERY_COLUMNS)
    assert _columns(store, "silences") == list(al.SILENCE_COLUMNS)
    assert _columns(store, "alert_rules") == ["name", "definition", "updated_at", "updated_by"]


def test_an_older_database_is_upgraded_and_a_reopen_applies_nothing(tmp_path: Path) -> None:
    path = tmp_path / "v.duckdb"
    with Store(path) as first:
        # Make it look like a database written before alerts existed (schema version 2).
        cur = first.cursor()
        for table in ALERT_TABLES:
            cur.execute(f"DROP TABLE {table}")
        cur.execute("DROP SEQUENCE alert_outbox_ids")
        cur.execute("DELETE FROM schema_migrations WHERE version >= 3")
        cur.execute(
            "INSERT INTO api_tokens (token_hash, name, created_at, id, scope) "
            "VALUES ('h', 'kept', now(), 'h', 'admin')"
        )
    with Store(path) as upgraded:
        assert upgraded.applied_migrations == [3, 4, 5, 6, 7, 8]
        assert _columns(upgraded, "alert_outbox") == list(al.OUTBOX_COLUMNS)
        assert upgraded.cursor().execute("SELECT name FROM api_tokens").fetchall() == [("kept",)]
    with Store(path) as again:
        assert again.applied_migrations == []


# -- instances -----------------------------------------------------------------------------


def test_instances_upsert_and_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "v.duckdb"
    firing = _instance(
        "latency", "churn", "firing", value=250.0, active_since=_at(-5), fired_at=_at(-5)
    )
    system = _instance("cpu", None, "pending", value=97.5, active_since=_at(-1))
    with Store(path) as store:
        writer = Writer(store)
        _write(writer, lambda con: al.save_instances(con, [firing, system]))
        notified = {**firing, "last_notified_at": T0, "last_notified_status": "firing"}
        # The same key twice in one batch: the last row wins, no constraint error.
        stale = {**firing, "value": 1.0}
        _write(writer, lambda con: al.save_instances(con, [stale, notified]))
        writer.stop()
    with Store(path) as restarted:
        rows = al.load_instances(restarted.cursor())
    # A system rule's model (None on the way in) is '' in storage and on the way out.
    assert [(r["rule"], r["model"]) for r in rows] == [("cpu", ""), ("latency", "churn")]
    assert rows[0] == {**system, "model": ""}
    assert rows[1] == notified
    assert rows[1]["fired_at"] == _at(-5) and rows[1]["fired_at"].tzinfo is not None


def test_instance_rows_are_checked(store: Store, writer: Writer) -> None:
    with pytest.raises(ValueError, match="state='burning': use one of inactive, pending"):
        _write(writer, lambda con: al.save_instances(con, [_instance("r", "m", "burning")]))
    with pytest.raises(ValueError, match="lacks last_change"):
        _write(writer, lambda con: al.save_instances(con, [{"rule": "r", "state": "firing"}]))
    bad_status = _instance("r", "m", "firing", last_notified_status="sent")
    with pytest.raises(ValueError, match="last_notified_status='sent'"):
        _write(writer, lambda con: al.save_instances(con, [bad_status]))
    assert al.load_instances(store.cursor()) == []


def test_delete_and_prune_instances_of_rules_that_are_gone(store: Store, writer: Writer) -> None:
    rows = [
        _instance("a", "m1", "firing"),
        _instance("a", "m2", "pending"),
        _instance("b", "m1", "resolved"),
        _instance("cpu", None, "firing"),
    ]
    _write(writer, lambda con: al.save_instances(con, rows))
    gone = _write(writer, lambda con: al.delete_instances(con, {("a", "m1"), ("cpu", None)}))
    assert gone == 2
    keys = [(r["rule"], r["model"]) for r in al.load_instances(store.cursor())]
    assert keys == [("a", "m1"), ("cpu", "")]
    assert _write(writer, lambda con: al.prune_instances(con, ["cpu", "zzz"])) == 1
    assert [r["rule"] for r in al.load_instances(store.cursor())] == ["cpu"]
    assert _write(writer, lambda con: al.prune_instances(con, [])) == 1
    assert al.load_instances(store.cursor()) == []
    with pytest.raises(TypeError, match="use delete_instances"):
        al.prune_instances(store.cursor(), {("cpu", "")})  # type: ignore[arg-type]


# -- transitions ---------------------------------------------------------------------------


def test_transitions_range_filters_and_newest_first(store: Store, writer: Writer) -> None:
    def change(minute: float, rule: str, model: str | None, to: str) -> dict[str, Any]:
        return {"at": _at(minute), "rule": rule, "model": model, "from_state": "pending",
                "to_state": to, "value": minute}  # fmt: skip

    rows = [
        change(0, "lat", "churn", "firing"),
        change(10, "lat", "churn", "resolved"),
        {**change(20, "cpu", None, "firing"), "silenced": True},
        change(30, "lat", "fraud", "firing"),
        change(40, "lat", "churn", "firing"),
    ]
    _write(writer, lambda con: al.add_transitions(con, rows))
    cur = store.cursor()
    frame = al.transitions(cur, _at(0), _at(40))  # start included, end excluded
    assert frame["value"].tolist() == [30.0, 20.0, 10.0, 0.0]
    assert frame.columns.tolist() == list(al.TRANSITION_COLUMNS)
    assert frame["silenced"].tolist() == [False, True, False, False]
    assert al.transitions(cur, _at(0), _at(60), rule="lat", model="churn")["value"].tolist() == [
        40.0,
        10.0,
        0.0,
    ]
    system = al.transitions(cur, _at(0), _at(60), model="")
    assert system["rule"].tolist() == ["cpu"] and system["model"].tolist() == [""]
    assert al.transitions(cur, _at(0), _at(60), limit=2)["value"].tolist() == [40.0, 30.0]
    with pytest.raises(ValueError, match="to_state='gone'"):
        _write(writer, lambda con: al.add_transitions(con, [change(50, "x", None, "gone")]))


# -- outbox --------------------------------------------------------------------------------


def test_due_is_oldest_first_and_respects_next_attempt_at(store: Store, writer: Writer) -> None:
    rows = [
        _outbox_row("late", "firing", 5, payload='{"status": "firing", "rule": "late"}'),
        _outbox_row("early", "firing", 1),
        _outbox_row("same-time-second", "firing", 3),
        _outbox_row("later-attempt", "firing", 0, next_attempt_at=_at(30)),
    ]
    rows.insert(2, _outbox_row("same-time-first", "firing", 3))
    ids = _write(writer, lambda con: al.enqueue(con, rows))
    assert ids == sorted(ids) and len(set(ids)) == 5
    cur = store.cursor()
    due = al.due(cur, _at(10))
    assert [r["rule"] for r in due] == ["early", "same-time-first", "same-time-second", "late"]
    assert json.loads(due[0]["payload"]) == rows[1]["payload"]  # stored as JSON text
    assert due[-1]["payload"] == rows[0]["payload"]  # JSON text is kept as given
    assert due[0]["attempts"] == 0 and due[0]["model"] == "churn"
    assert set(due[0]) == set(al.OUTBOX_COLUMNS)
    assert [r["rule"] for r in al.due(cur, _at(2))] == ["early"]
    assert [r["rule"] for r in al.due(cur, _at(10), limit=2)] == ["early", "same-time-first"]
    assert "later-attempt" in [r["rule"] for r in al.due(cur, _at(30))]


def test_retry_bookkeeping_then_delivery(store: Store, writer: Writer) -> None:
    [oid] = _write(writer, lambda con: al.enqueue(con, [_outbox_row("lat", "firing", 0)]))

    def fail(at: float, retry: float | None) -> Callable[[duckdb.DuckDBPyConnection], int]:
        return lambda con: al.record_attempt(
            con, oid, ok=False, error="HTTP 500: boom", at=_at(at),
            next_attempt_at=None if retry is None else _at(retry),
        )  # fmt: skip

    assert _write(writer, fail(1, 11)) == 1
    cur = store.cursor()
    [row] = al.outbox(cur).to_dict("records")
    assert row["attempts"] == 1 and row["last_error"] == "HTTP 500: boom"
    assert row["next_attempt_at"] == _at(11) and pd.isna(row["done_at"])
    assert al.due(cur, _at(10)) == []  # the retry waits for next_attempt_at
    assert [r["id"] for r in al.due(cur, _at(11))] == [oid]
    attempt = _write(
        writer,
        lambda con: al.record_attempt(
            con, oid, ok=True, error=None, at=_at(11.5), next_attempt_at=None
        ),
    )
    assert attempt == 2
    assert al.due(cur, _at(100)) == [] and al.outbox(cur).empty
    [done] = al.outbox(cur, include_done=True).to_dict("records")
    assert done["outcome"] == "delivered" and done["done_at"] == _at(11.5)
    assert done["attempts"] == 2
    history = al.deliveries(cur, _at(0), _at(60))
    assert history["attempt"].tolist() == [2, 1]  # newest first
    assert history["ok"].tolist() == [True, False]
    assert history["error"].isna().tolist() == [True, False]
    assert history["rule"].tolist() == ["lat", "lat"] and history["model"].tolist() == ["churn"] * 2
    assert set(history["status"]) == {"firing"} and set(history["channel"]) == {"ops"}


def test_a_failure_without_a_retry_time_drops_the_row(store: Store, writer: Writer) -> None:
    [oid] = _write(writer, lambda con: al.enqueue(con, [_outbox_row("lat", "firing", 0)]))
    long_error = "x" * 5000
    _write(
        writer,
        lambda con: al.record_attempt(
            con, oid, ok=False, error=long_error, at=_at(1), next_attempt_at=None
        ),
    )
    [row] = al.outbox(store.cursor(), include_done=True).to_dict("records")
    assert row["outcome"] == "dropped" and row["done_at"] == _at(1)
    assert len(row["last_error"]) == al.MAX_ERROR_CHARS
    assert al.pending_groups(store.cursor()) == []
    with pytest.raises(ValueError, match="outbox row 999 does not exist"):
        _write(
            writer,
            lambda con: al.record_attempt(
                con, 999, ok=True, error=None, at=_at(2), next_attempt_at=None
            ),
        )


def test_supersede_closes_the_other_status_of_that_alert_only(store: Store, writer: Writer) -> None:
    rows = [
        _outbox_row("lat", "firing", 0),
        _outbox_row("lat", "firing", 0, channel="slack"),
        _outbox_row("lat", "resolved", 1),
        _outbox_row("lat", "firing", 0, model="fraud", group_key="lat/fraud"),
        _outbox_row("cpu", "firing", 0, model=None, group_key="cpu"),
    ]
    ids = _write(writer, lambda con: al.enqueue(con, rows))
    n = _write(writer, lambda con: al.supersede(con, "lat", "churn", "resolved", _at(2)))
    assert n == 2
    cur = store.cursor()
    frame = al.outbox(cur, include_done=True).set_index("id")
    assert frame.loc[[ids[0], ids[1]], "outcome"].tolist() == ["superseded"] * 2
    assert frame.loc[ids[0], "done_at"] == _at(2)
    assert frame.loc[[ids[2], ids[3], ids[4]], "outcome"].isna().all()
    assert _write(writer, lambda con: al.supersede(con, "cpu", None, "resolved", _at(3))) == 1
    # A send that was in flight when its row was superseded is logged but keeps the outcome.
    _write(
        writer,
        lambda con: al.record_attempt(
            con, ids[0], ok=True, error=None, at=_at(4), next_attempt_at=None
        ),
    )
    after = al.outbox(cur, include_done=True).set_index("id")
    assert after.loc[ids[0], "outcome"] == "superseded" and after.loc[ids[0], "attempts"] == 1
    with pytest.raises(ValueError, match="status='pending'"):
        _write(writer, lambda con: al.supersede(con, "lat", "churn", "pending", _at(5)))


def test_pending_groups_give_the_oldest_undone_row(store: Store, writer: Writer) -> None:
    rows = [
        _outbox_row("a", "firing", 4, group_key="g-a"),
        _outbox_row("a", "firing", 2, group_key="g-a", channel="slack"),
        _outbox_row("b", "firing", 3, group_key="g-b"),
        _outbox_row("c", "firing", 1, group_key="g-c"),
    ]
    ids = _write(writer, lambda con: al.enqueue(con, rows))
    _write(
        writer,
        lambda con: al.record_attempt(
            con, ids[3], ok=True, error=None, at=_at(5), next_attempt_at=None
        ),
    )
    assert al.pending_groups(store.cursor()) == [("g-a", _at(2)), ("g-b", _at(3))]


def test_undelivered_notifications_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "v.duckdb"
    with Store(path) as store:
        writer = Writer(store)
        [oid] = _write(writer, lambda con: al.enqueue(con, [_outbox_row("lat", "firing", 0)]))
        writer.stop()
    with Store(path) as restarted:
        [row] = al.due(restarted.cursor(), _at(1))
        assert row["id"] == oid and json.loads(row["payload"])["labels"] == {"team": "risk"}
        # The sequence continues after the restart: ids are never reused.
        [next_id] = al.enqueue(restarted.cursor(), [_outbox_row("lat", "resolved", 1)])
        assert next_id > oid


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"status": "pending"}, "status='pending': use one of firing, resolved"),
        ({"payload": "not json"}, "is not valid JSON"),
        ({"payload": "[1, 2]"}, "must be a JSON object, got list"),
        ({"payload": {"value": float("nan")}}, "cannot be stored as JSON"),
        ({"payload": {"at": T0}}, "cannot be stored as JSON"),
        ({"channel": None}, "outbox row lacks channel"),
    ],
)
def test_bad_outbox_rows_are_refused(store: Store, change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        al.enqueue(store.cursor(), [{**_outbox_row("lat", "firing", 0), **change}])


# -- silences ------------------------------------------------------------------------------


def test_silences_add_expire_and_active_filter(tmp_path: Path) -> None:
    path = tmp_path / "v.duckdb"
    base = {"author": "ana", "comment": "deploy", "created_at": _at(0)}
    with Store(path) as store:
        writer = Writer(store)
        now_id = _write(
            writer,
            lambda con: al.add_silence(
                con,
                {**base, "rule": "lat", "labels": {"team": "risk", "env": "prod"},
                 "starts_at": _at(0), "ends_at": _at(60)},
            ),
        )  # fmt: skip
        later = {**base, "id": "maint", "model": "churn", "created_at": _at(1)}
        later_id = _write(
            writer,
            lambda con: al.add_silence(con, {**later, "starts_at": _at(30), "ends_at": _at(90)}),
        )
        assert later_id == "maint" and len(now_id) == 36 and now_id != later_id
        writer.stop()
    with Store(path) as store:
        cur = store.cursor()
        rows = al.list_silences(cur, now=_at(10))
        assert [r["id"] for r in rows] == ["maint", now_id]  # newest first
        assert rows[1]["labels"] == {"env": "prod", "team": "risk"}
        assert rows[0]["labels"] == {} and rows[0]["rule"] is None
        assert [r["active"] for r in rows] == [False, True]
        assert [r["id"] for r in al.list_silences(cur, now=_at(10), active_only=True)] == [now_id]
        assert {r["id"] for r in al.list_silences(cur, now=_at(45), active_only=True)} == {
            now_id,
            "maint",
        }
        assert al.list_silences(cur, now=_at(60), active_only=True)[0]["id"] == "maint"
        writer = Writer(store)
        assert _write(writer, lambda con: al.expire_silence(con, "maint", _at(40)))
        assert not _write(writer, lambda con: al.expire_silence(con, "maint", _at(41)))
        assert not _write(writer, lambda con: al.expire_silence(con, "nope", _at(41)))
        expired = {r["id"]: r for r in al.list_silences(cur, now=_at(40))}["maint"]
        assert expired["expired_at"] == _at(40) and expired["ends_at"] == _at(40)
        assert not expired["active"]
        assert [r["id"] for r in al.list_silences(cur, now=_at(45), active_only=True)] == [now_id]
        # Expiring after a silence ended keeps its original end.
        assert _write(writer, lambda con: al.expire_silence(con, now_id, _at(70)))
        ended = {r["id"]: r for r in al.list_silences(cur)}[now_id]
        assert ended["ends_at"] == _at(60) and ended["expired_at"] == _at(70)
        writer.stop()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ends_at": T0}, "ends_at must be after starts_at"),
        ({"author": None}, "silence lacks author"),
        ({"labels": {"team": 1}}, "labels must map strings to strings"),
        ({"id": "dup"}, "silence 'dup' already exists"),
    ],
)
def test_bad_silences_are_refused(store: Store, change: dict[str, Any], message: str) -> None:
    good = {"id": "dup", "rule": "lat", "starts_at": T0, "ends_at": _at(5), "author": "a",
            "comment": "c"}  # fmt: skip
    cur = store.cursor()
    al.add_silence(cur, good)
    with pytest.raises(ValueError, match=message):
        al.add_silence(cur, {**good, "id": None, **change})
    assert len(al.list_silences(cur)) == 1


# -- editor rules --------------------------------------------------------------------------


def test_editor_rules_crud_and_restart(tmp_path: Path) -> None:
    path = tmp_path / "v.duckdb"
    definition = {
        "metric": "latency_p95_ms",
        "condition": "> 200",
        "for": "5m",
        "labels": {"team": "risk"},
        "channels": ["ops", "slack"],
        "include_provisional": False,
    }
    with Store(path) as store:
        writer = Writer(store)
        _write(writer, lambda con: defs.save_rule(con, "lat", definition, "ana", _at(0)))
        _write(writer, lambda con: defs.save_rule(con, "cpu", {"metric": "cpu_percent"}, None, T0))
        changed = {**definition, "condition": "> 300"}
        _write(writer, lambda con: defs.save_rule(con, "lat", changed, "bo", _at(1)))
        writer.stop()
    with Store(path) as store:
        cur = store.cursor()
        assert defs.list_rules(cur) == {"cpu": {"metric": "cpu_percent"}, "lat": changed}
        meta = cur.execute("SELECT updated_at, updated_by FROM alert_rules WHERE name = 'lat'")
        assert meta.fetchall() == [(_at(1), "bo")]
        assert defs.delete_rule(cur, "cpu") and not defs.delete_rule(cur, "cpu")
        assert list(defs.list_rules(cur)) == ["lat"]
        with pytest.raises(ValueError, match="definition of alert rule 'x' cannot be stored"):
            defs.save_rule(cur, "x", {"threshold": float("inf")}, None, T0)
        with pytest.raises(ValueError, match="needs a name"):
            defs.save_rule(cur, "", definition, None, T0)


# -- retention -----------------------------------------------------------------------------


def test_retention_keeps_live_state(store: Store, writer: Writer) -> None:
    def seed(con: duckdb.DuckDBPyConnection) -> list[int]:
        al.save_instances(con, [_instance("lat", "churn", "firing", last_change=_at(-999))])
        al.add_transitions(
            con,
            [
                {"at": _at(t), "rule": "lat", "from_state": "pending", "to_state": "firing"}
                for t in (-100, 10)
            ],
        )
        ids = al.enqueue(
            con, [_outbox_row("old", "firing", -100), _outbox_row("new", "firing", -100)]
        )
        al.record_attempt(con, ids[0], ok=True, error=None, at=_at(-90), next_attempt_at=None)
        al.add_silence(con, {"rule": "lat", "starts_at": _at(-100), "ends_at": _at(-60),
                             "author": "a", "comment": "c"})  # fmt: skip
        return ids

    ids = _write(writer, seed)
    deleted = _write(writer, lambda con: al.apply_retention(con, _at(0)))
    assert deleted == {
        "alert_transitions": 1,
        "alert_deliveries": 1,
        "alert_outbox": 1,
        "silences": 1,
    }
    cur = store.cursor()
    assert al.outbox(cur, include_done=True)["id"].tolist() == [ids[1]]  # undone, however old
    assert len(al.load_instances(cur)) == 1
    assert al.transitions(cur, _at(-1000), _at(1000))["at"].tolist() == [_at(10)]
