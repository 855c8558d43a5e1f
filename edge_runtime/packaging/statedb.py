"""The one embedded state database (SQLite) that host-side subsystems share.

Packaging jobs live here today; the future Lookout-compatible API server keeps its projects, datasets
and models in the same file. Each subsystem owns its tables and declares them with `ensure_schema`, so
one file holds several tables without anybody editing a central list. WAL mode and a busy timeout let
a CLI process and a server read and write the file at the same time.

Path: `$EDGE_RUNTIME_HOME/state.db`, else `~/.edge-runtime/state.db`; callers may pass any path.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from typing import Iterable, Optional

from edge_runtime.errors import InvalidArgument

HOME_ENV = "EDGE_RUNTIME_HOME"
DB_FILE = "state.db"
BUSY_TIMEOUT_MS = 10000


def default_state_path() -> str:
    home = os.environ.get(HOME_ENV) or os.path.join(os.path.expanduser("~"), ".edge-runtime")
    return os.path.join(home, DB_FILE)


class StateDatabase:
    """A SQLite file plus a registry of which subsystem schemas (name, version) it already holds.

    One connection per thread (sqlite3 connections must not cross threads by default); every write goes
    through `transaction()`, which takes the write lock up front (BEGIN IMMEDIATE) so check-then-insert
    sequences such as "is this component version free?" cannot interleave between processes.
    """

    def __init__(self, path: Optional[str] = None) -> None:
        self.path = os.path.abspath(path or default_state_path())
        self._local = threading.local()

    def connect(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            parent = os.path.dirname(self.path)
            try:
                os.makedirs(parent, exist_ok=True)
                conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000.0, isolation_level=None)
            except (OSError, sqlite3.Error) as exc:
                raise InvalidArgument("state database %s cannot be opened: %s" % (self.path, exc)) from exc
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=%d" % BUSY_TIMEOUT_MS)
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_versions (subsystem TEXT PRIMARY KEY, version INTEGER NOT NULL)"
            )
            self._local.conn = conn
        return conn

    def transaction(self) -> "_Transaction":
        return _Transaction(self.connect())

    def ensure_schema(self, subsystem: str, version: int, statements: Iterable[str]) -> None:
        """Create a subsystem's tables once; refuse a file written by a newer release of that subsystem."""
        with self.transaction() as conn:
            row = conn.execute("SELECT version FROM schema_versions WHERE subsystem = ?", (subsystem,)).fetchone()
            if row is not None and row["version"] > version:
                raise InvalidArgument(
                    "state database %s holds %s schema version %d, newer than this release understands (%d)"
                    % (self.path, subsystem, row["version"], version)
                )
            if row is not None and row["version"] == version:
                return
            for statement in statements:
                conn.execute(statement)
            conn.execute(
                "INSERT OR REPLACE INTO schema_versions (subsystem, version) VALUES (?, ?)", (subsystem, version)
            )

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


class _Transaction:
    """`with db.transaction() as conn:` -> BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> None:  # type: ignore[no-untyped-def]
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")
