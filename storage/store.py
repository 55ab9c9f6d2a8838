"""The Store: the one read-write DuckDB connection of the server process."""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path
from types import TracebackType

import duckdb

from storage.errors import StoreLockedError
from storage.migrate import migrate

log = logging.getLogger(__name__)
_HOLDER_RE = re.compile(r"Conflicting lock is held in (?P<exe>.*?) \(PID (?P<pid>\d+)\)")


def _locked_error(path: Path, exc: duckdb.IOException) -> StoreLockedError:
    match = _HOLDER_RE.search(str(exc))
    holder = f"{match['exe']} (PID {match['pid']})" if match else "another process"
    return StoreLockedError(
        f"database {path} is already open in {holder}. Only one Vigil server can own a "
        "database file: stop that process, or give this one another file with --db / VIGIL_DB."
    )


class Store:
    """Owns the DuckDB connection; hands each thread its own cursor."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = duckdb.connect(str(self.path))
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise _locked_error(self.path, exc) from None
            raise
        self._local = threading.local()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._lock = threading.Lock()
        self._closed = False
        try:
            # Buckets and returned timestamps are UTC whatever the host's TZ (cursors share it).
            self._con.execute("SET GLOBAL TimeZone = 'UTC'")
            self.applied_migrations = migrate(self._con, str(self.path))
        except BaseException:
            # Release the file lock: a refused open must not keep the database held.
            self._con.close()
            raise

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor (DuckDB connections must not be shared across threads)."""
        if self._closed:
            raise RuntimeError(f"store {self.path} is closed")
        cur: duckdb.DuckDBPyConnection | None = getattr(self._local, "cursor", None)
        if cur is None:
            cur = self._con.cursor()
            self._local.cursor = cur
            with self._lock:
                self._cursors.append(cur)
        return cur

    @property
    def closed(self) -> bool:
        return self._closed

    def checkpoint(self) -> None:
        """Write the WAL into the database file."""
        self.cursor().execute("CHECKPOINT")

    def close(self) -> None:
        """Close every cursor (ending their transactions), checkpoint, close the connection."""
        if self._closed:
            return
        self._closed = True
        with self._lock:
            for cur in self._cursors:
                cur.close()
            self._cursors.clear()
        try:
            self._con.execute("CHECKPOINT")
        except duckdb.Error as exc:
            # The WAL is replayed on the next open, so nothing committed is lost.
            log.warning("checkpoint at close failed (%s); the WAL will be replayed on open", exc)
        finally:
            self._con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
