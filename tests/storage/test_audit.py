"""storage.audit on a real DuckDB file: appending entries and reading them back filtered."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

import storage.audit as audit
from storage import Store, Writer
from storage.audit import COLUMNS, AuditEntry, entries, record

T0 = datetime(2026, 11, 20, 9, tzinfo=UTC)


def _entry(action: str, actor: str = "ann", **kw: object) -> AuditEntry:
    base: dict[str, object] = {
        "actor": actor,
        "actor_kind": "user",
        "action": action,
        "target": "t",
        "detail": {},
        "source": "127.0.0.1",
    }
    return AuditEntry(**(base | kw))  # type: ignore[arg-type]


def _fill(store: Store) -> None:
    con = store.cursor()
    actions = ["login", "user.add", "user.role", "token.create", "login_failed", "erase"]
    for i, action in enumerate(actions):
        record(con, _entry(action, "ann" if i % 2 else "bob"), T0 + timedelta(minutes=i))


def test_record_stores_every_field_and_returns_increasing_ids(store: Store, writer: Writer) -> None:
    entry = AuditEntry(
        actor="ann@example.com",
        actor_kind="user",
        action="user.role",
        target="bob",
        detail={"from": "viewer", "to": "admin", "when": T0, "n": 3},
        source="10.0.0.7",
    )
    first = writer.run(lambda con: record(con, entry, T0))
    second = writer.run(lambda con: record(con, entry, T0))
    assert second > first
    frame = entries(store.cursor())
    assert list(frame.columns) == list(COLUMNS)
    row = frame.iloc[-1]
    assert row["id"] == first
    assert row["at"] == pd.Timestamp(T0)
    assert (row["actor"], row["actor_kind"], row["action"]) == (
        "ann@example.com",
        "user",
        "user.role",
    )
    assert (row["target"], row["source"], row["outcome"]) == ("bob", "10.0.0.7", "ok")
    # Detail is JSON text; what JSON lacks (a datetime) is stored as its text.
    assert json.loads(row["detail"]) == {
        "from": "viewer",
        "n": 3,
        "to": "admin",
        "when": str(T0),
    }


def test_a_denied_entry_keeps_its_outcome(store: Store) -> None:
    record(store.cursor(), _entry("denied", actor="tok-1", outcome="denied"), T0)
    frame = entries(store.cursor(), action="denied")
    assert frame["outcome"].tolist() == ["denied"]


@pytest.mark.parametrize("field", ["actor", "actor_kind", "action"])
def test_an_entry_needs_who_and_what(store: Store, field: str) -> None:
    entry = _entry("login") if field != "action" else _entry("")
    if field != "action":
        entry = AuditEntry(**{**entry.__dict__, field: ""})
    with pytest.raises(ValueError, match=field):
        record(store.cursor(), entry, T0)
    with pytest.raises(ValueError, match="mapping"):
        record(store.cursor(), _entry("login", detail=["not", "a", "mapping"]), T0)
    assert entries(store.cursor()).empty


def test_newest_first_and_filters_by_time_actor_and_action_prefix(store: Store) -> None:
    _fill(store)
    con = store.cursor()
    assert entries(con)["action"].tolist() == [
        "erase",
        "login_failed",
        "token.create",
        "user.role",
        "user.add",
        "login",
    ]
    assert entries(con, action="user.")["action"].tolist() == ["user.role", "user.add"]
    assert entries(con, action="login")["action"].tolist() == ["login_failed", "login"]
    assert entries(con, action="user%")["action"].tolist() == []  # a prefix, not a pattern
    assert entries(con, actor="ann")["action"].tolist() == ["erase", "token.create", "user.add"]
    window = entries(con, start=T0 + timedelta(minutes=1), end=T0 + timedelta(minutes=3))
    assert window["action"].tolist() == ["user.role", "user.add"]  # end is exclusive
    both = entries(con, actor="bob", action="user.", start=T0)
    assert both["action"].tolist() == ["user.role"]
    assert entries(con, limit=2)["action"].tolist() == ["erase", "login_failed"]


def test_an_empty_result_still_has_the_columns(store: Store) -> None:
    frame = entries(store.cursor(), actor="nobody")
    assert frame.empty and list(frame.columns) == list(COLUMNS)


@pytest.mark.parametrize("limit", [0, -1, True, 1.5, "10"])
def test_bad_limits_are_refused(store: Store, limit: object) -> None:
    with pytest.raises(ValueError, match="limit"):
        entries(store.cursor(), limit=limit)  # type: ignore[arg-type]


def test_the_module_offers_no_way_to_change_or_remove_entries() -> None:
    public = {name for name in dir(audit) if not name.startswith("_")}
    assert not {n for n in public if any(w in n for w in ("update", "delete", "remove", "clear"))}


def test_entries_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "v.duckdb"
    with Store(path) as first:
        first_id = record(first.cursor(), _entry("user.add"), T0)
    with Store(path) as again:
        assert record(again.cursor(), _entry("user.remove"), T0) == first_id + 1
        assert entries(again.cursor())["action"].tolist() == ["user.remove", "user.add"]
