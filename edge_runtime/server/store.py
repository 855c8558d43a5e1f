"""The server's state in the one SQLite file the host-side subsystems share (packaging jobs too).

The file and its connections belong to `edge_runtime.packaging.statedb.StateDatabase` (WAL mode, one
connection per thread, BEGIN IMMEDIATE transactions); the server declares its own tables there under
the subsystem name "server". Every change runs in a transaction so a crash leaves either the old or
the new state, never half of one.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
from typing import Any, Iterator

from edge_runtime.packaging.statedb import DB_FILE, StateDatabase, default_state_path

SUBSYSTEM = "server"
SCHEMA_VERSION = 3  # 2: lv_packaging_runs, 3: lv_detections

_SCHEMA = """
CREATE TABLE IF NOT EXISTS lv_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS lv_projects (
    name TEXT PRIMARY KEY, arn TEXT NOT NULL, created REAL NOT NULL, next_version INTEGER NOT NULL DEFAULT 1);
CREATE TABLE IF NOT EXISTS lv_datasets (
    project TEXT NOT NULL, dataset_type TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL,
    status TEXT NOT NULL, status_message TEXT, source TEXT,
    PRIMARY KEY (project, dataset_type));
CREATE TABLE IF NOT EXISTS lv_dataset_entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT, project TEXT NOT NULL, dataset_type TEXT NOT NULL,
    source_ref TEXT NOT NULL, label INTEGER, created REAL NOT NULL, line TEXT NOT NULL,
    UNIQUE (project, dataset_type, source_ref));
CREATE TABLE IF NOT EXISTS lv_models (
    project TEXT NOT NULL, version INTEGER NOT NULL, arn TEXT NOT NULL, created REAL NOT NULL,
    description TEXT, status TEXT NOT NULL, status_message TEXT, performance TEXT, output_config TEXT,
    evaluation_manifest TEXT, evaluation_result TEXT, evaluation_end REAL, kms_key_id TEXT,
    min_inference_units INTEGER, max_inference_units INTEGER, package_dir TEXT,
    PRIMARY KEY (project, version));
CREATE TABLE IF NOT EXISTS lv_tags (
    resource_arn TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (resource_arn, key));
CREATE TABLE IF NOT EXISTS lv_client_tokens (
    operation TEXT NOT NULL, token TEXT NOT NULL, fingerprint TEXT NOT NULL, response TEXT NOT NULL,
    created REAL NOT NULL, PRIMARY KEY (operation, token));
CREATE TABLE IF NOT EXISTS lv_detections (
    project TEXT NOT NULL, version INTEGER NOT NULL, minute INTEGER NOT NULL, images INTEGER NOT NULL,
    anomalies INTEGER NOT NULL, PRIMARY KEY (project, version, minute));
CREATE TABLE IF NOT EXISTS lv_packaging_runs (
    project TEXT NOT NULL, job_name TEXT NOT NULL, started REAL NOT NULL, PRIMARY KEY (project, job_name));
"""
__all__ = ["DB_FILE", "Store", "Transaction", "default_home"]


def default_home() -> str:
    """EDGE_RUNTIME_HOME, else ~/.edge-runtime: where the server keeps its state by default."""
    return os.path.dirname(default_state_path())


class Store:
    """The server's tables in the shared state file: cheap to construct, `open()` creates the schema."""

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)
        self.database = StateDatabase(self.path)

    def open(self) -> Store:
        """Create or upgrade the tables (every statement is idempotent, so an upgrade re-runs them all)."""
        statements = [s for s in _SCHEMA.split(";") if s.strip()]
        self.database.ensure_schema(SUBSYSTEM, SCHEMA_VERSION, statements)
        with self.transaction() as tx:
            tx.execute("INSERT OR IGNORE INTO lv_meta (key, value) VALUES ('token_secret', ?)",
                       (secrets.token_hex(32),))
        return self

    def close(self) -> None:
        self.database.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""
        with self.database.transaction() as conn:
            yield Transaction(conn)

    def query(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        return list(self.database.connect().execute(sql, args).fetchall())

    def query_one(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Row | None:
        rows = self.query(sql, args)
        return rows[0] if rows else None

    def meta(self, key: str) -> str | None:
        row = self.query_one("SELECT value FROM lv_meta WHERE key = ?", (key,))
        return None if row is None else str(row["value"])


class Transaction:
    """The connection inside a transaction, with the few calls the operations need."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def execute(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        return self._db.execute(sql, args)

    def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> sqlite3.Cursor:
        return self._db.executemany(sql, rows)

    def one(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Row | None:
        row = self._db.execute(sql, args).fetchone()
        return row  # type: ignore[no-any-return]

    def all(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        return list(self._db.execute(sql, args).fetchall())
