"""Compaction: rewrite the database into a fresh file, so deleted values leave the disk.

DuckDB leaves deleted values in the file's blocks: an erased string is still in the file
after DELETE + CHECKPOINT, even after rewriting the table. Only a fresh file that never
held them is clean, so compaction copies the whole database (COPY FROM DATABASE: tables
with their constraints and indexes, views, sequences with their next values, types and
macros) into a new file beside the old one, checks the copy, and swaps it in with an
atomic rename.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable
from pathlib import Path

import duckdb

_FRESH = "vigil_compact"  # the catalog name of the new file while it is attached


class CompactError(RuntimeError):
    """The database could not be compacted; the original file is unchanged."""


def _literal(text: str) -> str:
    """A SQL string literal (ATTACH takes no parameters)."""
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    """A quoted identifier for a catalog name taken from DuckDB itself."""
    return '"' + name.replace('"', '""') + '"'


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, _wal(path)) if p.exists())


def _fsync(path: Path, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _check_not_open(path: Path) -> None:
    """Refuse a file that this or another process has open.

    Read-only, so an open in this process (DuckDB shares one instance per file and
    configuration) fails with a configuration conflict instead of silently sharing it.
    """
    try:
        duckdb.connect(str(path), read_only=True).close()
    except (duckdb.ConnectionException, duckdb.IOException) as exc:
        raise CompactError(
            f"database {path} is open ({exc}): stop the Vigil server (or close the Store) "
            "before compacting it"
        ) from None


def _lock(path: Path) -> int:
    """Take the lock DuckDB takes on a database file (return its descriptor), so that a
    server starting while the file is swapped fails at once instead of opening the file
    about to be replaced. Closing the descriptor releases it."""
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise CompactError(
            f"database {path} was opened during compaction; nothing changed"
        ) from None
    return fd


def _catalog(con: duckdb.DuckDBPyConnection, database: str) -> dict[str, list[tuple[object, ...]]]:
    """What a database holds, comparable between the original and the copy."""
    queries = {
        "tables": "SELECT schema_name, table_name, column_count "
        "FROM duckdb_tables() WHERE database_name = ?",
        "columns": "SELECT schema_name, table_name, column_name, data_type, is_nullable "
        "FROM duckdb_columns() WHERE database_name = ?",
        "constraints": "SELECT schema_name, table_name, constraint_type, constraint_text "
        "FROM duckdb_constraints() WHERE database_name = ?",
        "views": "SELECT schema_name, view_name, sql FROM duckdb_views() "
        "WHERE database_name = ? AND NOT internal",
        "sequences": "SELECT schema_name, sequence_name, start_value, increment_by, last_value "
        "FROM duckdb_sequences() WHERE database_name = ?",
        "indexes": "SELECT schema_name, table_name, index_name, sql "
        "FROM duckdb_indexes() WHERE database_name = ?",
        "types": "SELECT schema_name, type_name, logical_type FROM duckdb_types() "
        "WHERE database_name = ? AND NOT internal",
        "macros": "SELECT DISTINCT schema_name, function_name, function_type "
        "FROM duckdb_functions() WHERE database_name = ? AND NOT internal "
        "AND function_type IN ('macro', 'table_macro')",
    }
    return {
        kind: sorted(con.execute(sql, [database]).fetchall(), key=repr)
        for kind, sql in queries.items()
    }


def _verify(con: duckdb.DuckDBPyConnection, source: str) -> None:
    """The copy holds the same objects and, per table, the same rows (count and hash sum)."""
    have, copied = _catalog(con, source), _catalog(con, _FRESH)
    for kind, objects in have.items():
        if objects != copied[kind]:
            missing = sorted(set(objects) - set(copied[kind]), key=repr)[:3]
            raise CompactError(f"the copy's {kind} differ from the original's (e.g. {missing})")
    for schema, table, *_ in have["tables"]:
        name = f"{_ident(str(schema))}.{_ident(str(table))}"
        # hash(t) hashes the whole row; the sum ignores row order, which the copy may change.
        sql = "SELECT count(*), coalesce(sum(hash(t)), 0) FROM {}.{} t"
        original = con.execute(sql.format(_ident(source), name)).fetchall()
        copy = con.execute(sql.format(_ident(_FRESH), name)).fetchall()
        if original != copy:
            raise CompactError(f"table {schema}.{table} differs in the copy: {original} != {copy}")


def _remove(*paths: Path) -> None:
    for p in paths:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


def compact(path: Path, progress: Callable[[str], None] | None = None) -> tuple[int, int]:
    """Rewrite a closed database file into a fresh one; return its size before and after.

    The file must not be open (stop the server first). Every table, view, sequence (with
    its next value) and macro is copied, schema_migrations included, so a Store opens the
    result without migrating. On any failure the original file is left as it was.
    """
    path = Path(path)
    say = progress or (lambda _message: None)
    if not path.is_file():
        raise FileNotFoundError(f"no database file at {path}")
    _check_not_open(path)
    before = _size(path)
    fresh = path.with_name(path.name + ".compact")
    _remove(fresh, _wal(fresh))  # the leftovers of an interrupted run
    say(f"copying {path} ({before:,} bytes) into a fresh file")
    con = duckdb.connect(str(path))
    try:
        con.execute("CHECKPOINT")  # fold a pending WAL in, so nothing depends on it
        row = con.execute("SELECT current_database()").fetchall()
        source = str(row[0][0])
        con.execute(f"ATTACH {_literal(str(fresh))} AS {_FRESH}")
        con.execute(f"COPY FROM DATABASE {_ident(source)} TO {_FRESH}")
        say("checking the copy")
        _verify(con, source)
        con.execute(f"CHECKPOINT {_FRESH}")
        con.execute(f"DETACH {_FRESH}")
    except BaseException:
        con.close()
        _remove(fresh, _wal(fresh))
        raise
    con.close()
    if _wal(fresh).exists():
        _remove(fresh, _wal(fresh))
        raise CompactError(f"the copy of {path} kept a WAL after its checkpoint; nothing changed")
    try:
        fd = _lock(path)
    except CompactError:
        _remove(fresh)
        raise
    try:
        say("replacing the old file")
        _fsync(fresh)
        # Checkpointed above, so the old WAL holds nothing the copy lacks; it goes first, as
        # replaying it on the new file would corrupt it.
        _remove(_wal(path))
        os.replace(fresh, path)
        _fsync(path.parent, directory=True)
    finally:
        os.close(fd)
    after = _size(path)
    say(f"compacted {path}: {before:,} -> {after:,} bytes")
    return before, after
