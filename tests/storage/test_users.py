"""storage.users on a real DuckDB file: accounts, roles, password hashes and lockout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from storage import Store, Writer
from storage.sessions import create_session, session_user
from storage.users import (
    UnknownUserError,
    UserError,
    add_user,
    check_user_name,
    get_user,
    list_users,
    password_hash,
    record_failure,
    record_success,
    remove_user,
    set_password_hash,
    set_role,
)

T0 = datetime(2026, 11, 20, 9, tzinfo=UTC)
HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA"


def test_migration_creates_the_users_table_with_the_contract_columns(store: Store) -> None:
    assert 8 in store.applied_migrations
    rows = store.cursor().execute(
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_name = 'users' ORDER BY ordinal_position"
    )
    assert rows.fetchall() == [
        ("name", "VARCHAR", "NO"),
        ("password_hash", "VARCHAR", "NO"),
        ("role", "VARCHAR", "NO"),
        ("created_at", "TIMESTAMP WITH TIME ZONE", "NO"),
        ("updated_at", "TIMESTAMP WITH TIME ZONE", "NO"),
        ("last_login_at", "TIMESTAMP WITH TIME ZONE", "YES"),
        ("failed_logins", "INTEGER", "NO"),
        ("locked_until", "TIMESTAMP WITH TIME ZONE", "YES"),
    ]


def test_add_get_list_and_the_hash_stays_out_of_records(store: Store, writer: Writer) -> None:
    added = writer.run(lambda con: add_user(con, "zoe@example.com", HASH, "editor", T0))
    writer.run(lambda con: add_user(con, "adam", "other-hash", "viewer", T0 + timedelta(1)))
    assert added.name == "zoe@example.com"
    assert (added.role, added.created_at, added.updated_at) == ("editor", T0, T0)
    assert (added.last_login_at, added.failed_logins, added.locked_until) == (None, 0, None)
    assert not hasattr(added, "password_hash")
    con = store.cursor()
    assert get_user(con, "zoe@example.com") == added
    assert get_user(con, "nobody") is None
    assert [u.name for u in list_users(con)] == ["adam", "zoe@example.com"]
    assert password_hash(con, "zoe@example.com") == HASH
    assert password_hash(con, "nobody") is None


def test_a_taken_name_is_refused_and_the_first_user_is_kept(store: Store, writer: Writer) -> None:
    writer.run(lambda con: add_user(con, "ann", HASH, "admin", T0))
    with pytest.raises(UserError, match="already exists"):
        writer.run(lambda con: add_user(con, "ann", "x", "viewer", T0))
    user = get_user(store.cursor(), "ann")
    assert user is not None and user.role == "admin"
    assert password_hash(store.cursor(), "ann") == HASH


@pytest.mark.parametrize("name", ["", "a b", "x" * 65, "ann;drop", "é", "a/b", None, 7])
def test_bad_user_names_are_refused_with_the_rule(store: Store, name: object) -> None:
    with pytest.raises(UserError, match="1-64 characters"):
        check_user_name(name)  # type: ignore[arg-type]
    with pytest.raises(UserError):
        add_user(store.cursor(), name, HASH, "viewer", T0)  # type: ignore[arg-type]
    assert list_users(store.cursor()) == []


@pytest.mark.parametrize("name", ["a", "x" * 64, "first.last+tag@corp-1.example", "A_B-9"])
def test_good_user_names_pass(name: str) -> None:
    assert check_user_name(name) == name


def test_unknown_roles_are_refused(store: Store) -> None:
    with pytest.raises(UserError, match="viewer, editor, admin"):
        add_user(store.cursor(), "ann", HASH, "owner", T0)
    add_user(store.cursor(), "ann", HASH, "viewer", T0)
    with pytest.raises(UserError, match="unknown role 'root'"):
        set_role(store.cursor(), "ann", "root", T0)


def test_set_role_changes_role_and_updated_at_only(store: Store) -> None:
    con = store.cursor()
    add_user(con, "ann", HASH, "viewer", T0)
    changed = set_role(con, "ann", "admin", T0 + timedelta(hours=1))
    assert (changed.role, changed.created_at, changed.updated_at) == (
        "admin",
        T0,
        T0 + timedelta(hours=1),
    )
    assert get_user(con, "ann") == changed
    with pytest.raises(UnknownUserError, match="'bob'"):
        set_role(con, "bob", "admin", T0)


def test_set_password_hash_replaces_the_hash_and_lifts_a_lockout(store: Store) -> None:
    con = store.cursor()
    add_user(con, "ann", HASH, "viewer", T0)
    assert record_failure(con, "ann", T0, 1, timedelta(minutes=15)) is not None
    set_password_hash(con, "ann", "new-hash", T0 + timedelta(minutes=1))
    assert password_hash(con, "ann") == "new-hash"
    user = get_user(con, "ann")
    assert user is not None
    assert (user.locked_until, user.failed_logins) == (None, 0)
    assert user.updated_at == T0 + timedelta(minutes=1)
    with pytest.raises(UnknownUserError):
        set_password_hash(con, "bob", "h", T0)


def test_remove_user_deletes_them_and_their_sessions(store: Store) -> None:
    con = store.cursor()
    add_user(con, "ann", HASH, "viewer", T0)
    add_user(con, "bob", HASH, "viewer", T0)
    create_session(con, "s-ann", "ann", T0, T0 + timedelta(hours=12), "127.0.0.1")
    create_session(con, "s-bob", "bob", T0, T0 + timedelta(hours=12), "127.0.0.1")
    remove_user(con, "ann")
    assert get_user(con, "ann") is None
    assert con.execute("SELECT session_hash FROM sessions").fetchall() == [("s-bob",)]
    # A new account of the same name does not inherit the old one's session.
    add_user(con, "ann", HASH, "admin", T0)
    assert session_user(con, "s-ann", T0 + timedelta(hours=1)) is None
    assert session_user(con, "s-bob", T0 + timedelta(hours=1)) == "bob"
    with pytest.raises(UnknownUserError, match="no user is called 'carl'"):
        remove_user(con, "carl")


def test_failures_lock_at_the_limit_and_the_counter_starts_again(store: Store) -> None:
    con = store.cursor()
    add_user(con, "ann", HASH, "viewer", T0)
    lockout = timedelta(minutes=15)
    for i in range(4):
        assert record_failure(con, "ann", T0 + timedelta(seconds=i), 5, lockout) is None
        user = get_user(con, "ann")
        assert user is not None and user.failed_logins == i + 1 and user.locked_until is None
    at = T0 + timedelta(seconds=10)
    assert record_failure(con, "ann", at, 5, lockout) == at + lockout
    user = get_user(con, "ann")
    assert user is not None and (user.failed_logins, user.locked_until) == (0, at + lockout)
    # The next failure counts from one again; the lockout stands until it ends.
    assert record_failure(con, "ann", at + timedelta(seconds=1), 5, lockout) is None
    user = get_user(con, "ann")
    assert user is not None and (user.failed_logins, user.locked_until) == (1, at + lockout)


def test_failures_of_an_unknown_name_store_nothing(store: Store) -> None:
    con = store.cursor()
    assert record_failure(con, "ghost", T0, 1, timedelta(minutes=1)) is None
    assert list_users(con) == []
    with pytest.raises(ValueError, match="max_failures"):
        record_failure(con, "ghost", T0, 0, timedelta(minutes=1))


def test_success_clears_failures_and_lockout_and_notes_the_time(store: Store) -> None:
    con = store.cursor()
    add_user(con, "ann", HASH, "viewer", T0)
    record_failure(con, "ann", T0, 2, timedelta(minutes=5))
    record_failure(con, "ann", T0, 3, timedelta(minutes=5))
    record_success(con, "ann", T0 + timedelta(hours=1))
    user = get_user(con, "ann")
    assert user is not None
    assert (user.failed_logins, user.locked_until) == (0, None)
    assert user.last_login_at == T0 + timedelta(hours=1)
    record_success(con, "ghost", T0)  # unknown: nothing to do, no error
    assert [u.name for u in list_users(con)] == ["ann"]


def test_users_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "v.duckdb"
    with Store(path) as first:
        add_user(first.cursor(), "ann", HASH, "editor", T0)
    with Store(path) as again:
        assert again.applied_migrations == []
        user = get_user(again.cursor(), "ann")
        assert user is not None and user.role == "editor"
        assert password_hash(again.cursor(), "ann") == HASH
