"""storage.tokens on a real DuckDB file: scopes, ids, revocation, use times, the upgrade."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from storage import Store, Writer
from storage.migrate import available_migrations
from storage.tokens import (
    TokenError,
    TokenRecord,
    hash_token,
    list_tokens,
    matches,
    new_token,
    revoke_token,
    store_token,
    token_hashes,
    token_records,
    touch_tokens,
)

T0 = datetime(2026, 11, 20, 9, tzinfo=UTC)


def _old_database(path: Path, tokens: list[tuple[str, str]]) -> None:
    """A database as Vigil left it before migration 8, holding `tokens` (hash, name)."""
    con = duckdb.connect(str(path))
    con.execute(
        "CREATE TABLE schema_migrations ("
        "version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"
    )
    for migration in available_migrations():
        if migration.version < 8:
            migration.run(con)
            con.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, now())",
                [migration.version, migration.name],
            )
    for digest, name in tokens:
        con.execute("INSERT INTO api_tokens VALUES (?, ?, ?)", [digest, name, T0])
    con.close()


def test_tokens_stored_before_the_upgrade_keep_full_access(tmp_path: Path) -> None:
    path = tmp_path / "v.duckdb"
    old = new_token()
    _old_database(path, [(hash_token(old), "ci"), (hash_token("x"), "dup"), ("ab" * 32, "dup")])
    with Store(path) as store:
        assert store.applied_migrations == [8]
        con = store.cursor()
        record = token_records(con)[hash_token(old)]
        assert record == TokenRecord(
            id=hash_token(old)[:12],
            name="ci",
            scope="admin",
            model=None,
            created_at=T0,
            created_by=None,
            last_used_at=None,
            revoked_at=None,
        )
        assert hash_token(old) in token_hashes(con)
        # Old tokens may share a name: revoking that name is ambiguous, by id it works.
        with pytest.raises(TokenError, match="2 active tokens match 'dup'"):
            revoke_token(con, "dup", T0)
        revoked = revoke_token(con, "abababababab", T0)
        assert revoked.name == "dup" and not revoked.active
        assert revoke_token(con, "dup", T0).id == hash_token("x")[:12]
        nulls = con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'api_tokens' "
            "AND is_nullable = 'NO' ORDER BY ordinal_position"
        ).fetchall()
        assert nulls == [("token_hash",), ("name",), ("created_at",), ("id",), ("scope",)]


def test_store_returns_the_record_and_never_keeps_the_token(store: Store, writer: Writer) -> None:
    token = new_token()
    assert token.startswith("vgl_") and len(token) > 40 and token != new_token()
    record = writer.run(
        lambda con: store_token(con, token, "ingest-m", "ingest", "m.v2", "ann", T0)
    )
    assert record == TokenRecord(
        hash_token(token)[:12], "ingest-m", "ingest", "m.v2", T0, "ann", None, None
    )
    assert record.active
    dump = repr(store.cursor().execute("SELECT * FROM api_tokens").fetchall())
    assert token not in dump and hash_token(token) in dump


def test_storing_the_same_token_twice_is_a_no_op(store: Store) -> None:
    con = store.cursor()
    first = store_token(con, "tok-1", "a", "read", now=T0)
    again = store_token(con, "tok-1", "other name", "admin", now=T0 + timedelta(1))
    assert again == first
    assert len(list_tokens(con)) == 1


def test_defaults_are_an_admin_token_for_any_model(store: Store) -> None:
    # The two-argument call dashboard/server.py makes.
    record = store_token(store.cursor(), "tok", "first-start")
    assert (record.scope, record.model, record.created_by) == ("admin", None, None)
    assert abs(record.created_at - datetime.now(UTC)) < timedelta(minutes=1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": ""}, "invalid token name"),
        ({"name": "  "}, "invalid token name"),
        ({"name": "x" * 129}, "invalid token name"),
        ({"scope": "write"}, "unknown token scope 'write': use ingest, read, admin"),
        ({"model": "bad name!"}, "invalid model name"),
        ({"token": ""}, "cannot be empty"),
    ],
)
def test_bad_requests_are_refused_and_store_nothing(
    store: Store, kwargs: dict[str, str], message: str
) -> None:
    args = {"token": "t", "name": "n", "scope": "read", "model": None} | kwargs
    with pytest.raises(TokenError, match=message):
        store_token(store.cursor(), args.pop("token"), **args)  # type: ignore[arg-type]
    assert list_tokens(store.cursor()) == []


def test_an_active_name_is_unique_but_a_revoked_one_may_be_reused(store: Store) -> None:
    con = store.cursor()
    store_token(con, "t1", "ci", now=T0)
    with pytest.raises(TokenError, match="already called 'ci'"):
        store_token(con, "t2", "ci", now=T0)
    revoke_token(con, "ci", T0 + timedelta(hours=1))
    reused = store_token(con, "t2", "ci", now=T0 + timedelta(hours=2))
    assert reused.active
    assert [(t.name, t.active) for t in list_tokens(con)] == [("ci", True), ("ci", False)]


def test_revoke_by_id_or_name_and_revoked_tokens_stop_matching(store: Store) -> None:
    con = store.cursor()
    a = store_token(con, "ta", "a", now=T0)
    store_token(con, "tb", "b", now=T0 + timedelta(seconds=1))
    revoked = revoke_token(con, a.id, T0 + timedelta(hours=1))
    assert (revoked.id, revoked.revoked_at, revoked.active) == (
        a.id,
        T0 + timedelta(hours=1),
        False,
    )
    assert revoke_token(con, "b", T0).name == "b"
    with pytest.raises(LookupError, match="no active token has the id or name 'a'"):
        revoke_token(con, "a", T0)  # already revoked
    with pytest.raises(LookupError):
        revoke_token(con, "nope", T0)
    assert token_hashes(con) == set()
    records = token_records(con)
    assert set(records) == {hash_token("ta"), hash_token("tb")}
    assert not any(r.active for r in records.values())


def test_list_is_newest_first(store: Store) -> None:
    con = store.cursor()
    for i in range(3):
        store_token(con, f"t{i}", f"n{i}", now=T0 + timedelta(minutes=i))
    assert [t.name for t in list_tokens(con)] == ["n2", "n1", "n0"]


def test_touch_keeps_the_later_use(store: Store, writer: Writer) -> None:
    con = store.cursor()
    store_token(con, "ta", "a", now=T0)
    store_token(con, "tb", "b", now=T0)
    later, earlier = T0 + timedelta(hours=2), T0 + timedelta(hours=1)
    writer.run(lambda c: touch_tokens(c, {hash_token("ta"): later, "unknown": later}))
    writer.run(lambda c: touch_tokens(c, {hash_token("ta"): earlier, hash_token("tb"): earlier}))
    records = token_records(con)
    assert records[hash_token("ta")].last_used_at == later
    assert records[hash_token("tb")].last_used_at == earlier
    touch_tokens(con, {})


def test_matches_compares_hashes(store: Store) -> None:
    con = store.cursor()
    store_token(con, "good", "a")
    store_token(con, "gone", "b")
    revoke_token(con, "b", T0)
    hashes = token_hashes(con)
    assert matches("good", hashes)
    assert not matches("gone", hashes)
    assert not matches("bad", hashes)
    assert hash_token("good") == "770e607624d689265ca6c44884d0807d9b054d23c473c106c72be9de08b7376c"
