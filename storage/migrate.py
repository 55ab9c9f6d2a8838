"""Apply the numbered migrations in storage/migrations/ and record them.

A migration is a `NNNN_name.sql` script, or a `NNNN_name.py` module with `apply(con)` for
steps SQL alone cannot express (one ALTER per model's predictions table, say).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

import duckdb

from storage.errors import SchemaTooNewError

_NAME_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.(sql|py)$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str = ""
    module: str = ""

    def run(self, con: duckdb.DuckDBPyConnection) -> None:
        if self.module:
            step: Callable[[duckdb.DuckDBPyConnection], None]
            step = importlib.import_module(self.module).apply
            step(con)
        else:
            con.execute(self.sql)


def available_migrations() -> list[Migration]:
    """Every migration shipped with this code, by version."""
    found = []
    for entry in resources.files("storage.migrations").iterdir():
        match = _NAME_RE.match(entry.name)
        if match and match[3] == "sql":
            found.append(Migration(int(match[1]), match[2], sql=entry.read_text(encoding="utf-8")))
        elif match:
            module = f"storage.migrations.{entry.name.removesuffix('.py')}"
            found.append(Migration(int(match[1]), match[2], module=module))
    return sorted(found, key=lambda m: m.version)


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    """The highest migration recorded in the database (0 for a new one)."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        "version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"
    )
    row = con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
    return int(row[0]) if row else 0


def migrate(con: duckdb.DuckDBPyConnection, path: str) -> list[int]:
    """Apply the migrations the database lacks; return the versions applied."""
    migrations = available_migrations()
    known = migrations[-1].version if migrations else 0
    have = current_version(con)
    if have > known:
        raise SchemaTooNewError(
            f"database {path} has schema version {have}, but this Vigil only knows up to "
            f"{known}: it was written by a newer Vigil. Upgrade Vigil (pip install -U vigil-ml) "
            "or point --db at another file."
        )
    applied = []
    for migration in migrations:
        if migration.version <= have:
            continue
        con.execute("BEGIN")
        try:
            migration.run(con)
            con.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, now())",
                [migration.version, migration.name],
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        applied.append(migration.version)
    return applied
