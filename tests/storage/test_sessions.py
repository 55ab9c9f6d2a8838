"""storage.sessions on a real DuckDB file: lookup, expiry, logout and purging."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from storage import Store, Writer
from storage.sessions import (
    create_session,
    end_session,
    end_user_sessions,
    purge_sessions,
    session_user,
)
from storage.users import add_user, remove_user

T0 = datetime(2026, 11, 20, 9, tzinfo=UTC)
DAY = timedelta(hours=12)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@pytest.fixture
def con(store: Store) -> duckdb.DuckDBPyConnection:
    cur = store.cursor()
    add_user(cur, "ann", "h", "viewer", T0)
    add_user(cur, "bob", "h", "admin", T0)
    return cur


def test_only_the_hash_is_stored_and_it_finds_the_user(
    store: Store, writer: Writer, con: duckdb.DuckDBPyConnection
) -> None:
    token = secrets.token_urlsafe(32)
    writer.run(lambda c: create_session(c, _digest(token), "ann", T0, T0 + DAY, "10.1.2.3"))
    stored = con.execute("SELECT * FROM sessions").fetchall()
    assert stored == [(_digest(token), "ann", T0, T0 + DAY, "10.1.2.3", None)]
    assert token not in repr(stored)
    assert session_user(con, _digest(token), T0 + timedelta(minutes=1)) == "ann"
    assert session_user(con, _digest("guess"), T0) is None


def test_a_session_is_valid_until_just_before_it_expires(con: duckdb.DuckDBPyConnection) -> None:
    create_session(con, "s1", "ann", T0, T0 + DAY, None)
    assert session_user(con, "s1", T0) == "ann"
    assert session_user(con, "s1", T0 + DAY - timedelta(microseconds=1)) == "ann"
    assert session_user(con, "s1", T0 + DAY) is None
    with pytest.raises(ValueError, match="not after now"):
        create_session(con, "s2", "ann", T0, T0, None)


def test_an_ended_session_no_longer_works_and_ending_twice_is_harmless(
    con: duckdb.DuckDBPyConnection,
) -> None:
    create_session(con, "s1", "ann", T0, T0 + DAY, None)
    end_session(con, "s1", T0 + timedelta(hours=1))
    end_session(con, "s1", T0 + timedelta(hours=2))  # keeps the first end time
    end_session(con, "unknown", T0)
    assert session_user(con, "s1", T0 + timedelta(hours=1)) is None
    ended = con.execute("SELECT ended_at FROM sessions WHERE session_hash = 's1'").fetchall()
    assert ended == [(T0 + timedelta(hours=1),)]


def test_a_removed_user_loses_their_sessions(con: duckdb.DuckDBPyConnection) -> None:
    create_session(con, "s1", "ann", T0, T0 + DAY, None)
    # Stored without the user (as if the user row vanished some other way): still refused.
    create_session(con, "s9", "ghost", T0, T0 + DAY, None)
    assert session_user(con, "s9", T0) is None
    remove_user(con, "ann")
    assert session_user(con, "s1", T0) is None


def test_end_user_sessions_ends_only_that_users_open_ones(con: duckdb.DuckDBPyConnection) -> None:
    create_session(con, "a1", "ann", T0, T0 + DAY, None)
    create_session(con, "a2", "ann", T0, T0 + DAY, None)
    create_session(con, "a3", "ann", T0 - DAY, T0, None)  # already expired
    create_session(con, "b1", "bob", T0, T0 + DAY, None)
    end_session(con, "a2", T0)
    now = T0 + timedelta(hours=1)
    assert end_user_sessions(con, "ann", now) == 1
    assert session_user(con, "a1", now) is None
    assert session_user(con, "b1", now) == "bob"
    assert end_user_sessions(con, "nobody", now) == 0


def test_purge_deletes_expired_and_ended_rows_only(con: duckdb.DuckDBPyConnection) -> None:
    create_session(con, "live", "ann", T0, T0 + DAY, None)
    create_session(con, "ended", "ann", T0, T0 + DAY, None)
    create_session(con, "expired", "bob", T0 - DAY, T0, None)
    create_session(con, "edge", "bob", T0 - DAY, T0 + timedelta(hours=1), None)
    end_session(con, "ended", T0)
    assert purge_sessions(con, T0 + timedelta(hours=1)) == 3
    left = con.execute("SELECT session_hash FROM sessions").fetchall()
    assert left == [("live",)]
    assert purge_sessions(con, T0 + timedelta(hours=1)) == 0
