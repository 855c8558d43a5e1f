"""Packaging jobs in the shared state database: Lookout's CREATED -> RUNNING -> SUCCEEDED | FAILED.

Rules kept by the store itself, inside one write transaction each, so two processes cannot both win:
- a job name is unique within its project (the model's name);
- a component name + version belongs to at most one job that has not FAILED (partial unique index);
- a client token seen in the last 8 hours returns the job it created when the request is the same, and
  is refused when the request differs (Lookout's idempotency).
"""

from __future__ import annotations

import base64
import json
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Tuple

from edge_runtime.errors import AlreadyExists, InvalidArgument, NotFound
from edge_runtime.packaging.statedb import StateDatabase

SUBSYSTEM = "packaging"
SCHEMA_VERSION = 1
STATUSES = ("CREATED", "RUNNING", "SUCCEEDED", "FAILED")
CLIENT_TOKEN_TTL_S = 8 * 3600
_SCHEMA = (
    """CREATE TABLE packaging_jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        project_name TEXT NOT NULL,
        model_version TEXT NOT NULL,
        job_name TEXT NOT NULL,
        description TEXT,
        status TEXT NOT NULL,
        status_message TEXT NOT NULL DEFAULT '',
        configuration TEXT NOT NULL,
        component_name TEXT NOT NULL,
        component_version TEXT NOT NULL,
        component_arn TEXT NOT NULL DEFAULT '',
        recipe_uri TEXT NOT NULL DEFAULT '',
        client_token TEXT,
        request_fingerprint TEXT NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        UNIQUE (project_name, job_name))""",
    """CREATE UNIQUE INDEX packaging_live_component ON packaging_jobs (component_name, component_version)
        WHERE status != 'FAILED'""",
    "CREATE INDEX packaging_client_token ON packaging_jobs (client_token)",
)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class PackagingJob:
    """One row, with the Lookout-shaped views Describe and List return."""

    id: int
    project_name: str
    model_version: str
    job_name: str
    status: str
    status_message: str
    configuration: Dict[str, Any]
    component_name: str
    component_version: str
    component_arn: str
    recipe_uri: str
    created_at: float
    updated_at: float
    description: Optional[str] = None
    client_token: Optional[str] = None
    request_fingerprint: str = field(default="", repr=False)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> "PackagingJob":
        data = dict(row)
        data["configuration"] = json.loads(data["configuration"])
        return cls(**data)

    def metadata(self) -> Dict[str, Any]:
        """ModelPackagingJobMetadata (List)."""
        data: Dict[str, Any] = {
            "JobName": self.job_name,
            "ProjectName": self.project_name,
            "ModelVersion": self.model_version,
            "ModelPackagingMethod": "Greengrass",
            "Status": self.status,
            "StatusMessage": self.status_message,
            "CreationTimestamp": _iso(self.created_at),
            "LastUpdatedTimestamp": _iso(self.updated_at),
        }
        if self.description:
            data["ModelPackagingJobDescription"] = self.description
        return data

    def description_dict(self) -> Dict[str, Any]:
        """ModelPackagingDescription (Describe)."""
        data = self.metadata()
        data["ModelPackagingConfiguration"] = {"Greengrass": self.configuration}
        details = {"ComponentName": self.component_name, "ComponentVersion": self.component_version}
        if self.component_arn:
            details["ComponentVersionArn"] = self.component_arn
        if self.recipe_uri:
            details["RecipeUri"] = self.recipe_uri
        data["ModelPackagingOutputDetails"] = {"Greengrass": details}
        return data


@dataclass(frozen=True)
class NewJob:
    """What the runner asks the store to create."""

    project_name: str
    model_version: str
    job_name: str
    component_name: str
    component_version: str
    configuration: Dict[str, Any]
    request_fingerprint: str
    description: Optional[str] = None
    client_token: Optional[str] = None


class PackagingJobStore:
    """Packaging jobs table(s) in a StateDatabase."""

    def __init__(self, db: StateDatabase) -> None:
        self.db = db
        db.ensure_schema(SUBSYSTEM, SCHEMA_VERSION, _SCHEMA)

    def create(self, job: NewJob, now: Optional[float] = None) -> Tuple[PackagingJob, bool]:
        """Insert a CREATED job; returns (job, created). created=False: an idempotent replay of a token."""
        now = time.time() if now is None else now
        with self.db.transaction() as conn:
            if job.client_token:
                existing = self._by_token(conn, job.client_token, now)
                if existing is not None:
                    self.replay(job.client_token, job.request_fingerprint, now)  # raises on another request
                    return existing, False
            self._check_free(conn, job)
            cursor = conn.execute(
                "INSERT INTO packaging_jobs (project_name, model_version, job_name, description, status,"
                " configuration, component_name, component_version, client_token, request_fingerprint,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, 'CREATED', ?, ?, ?, ?, ?, ?, ?)",
                (job.project_name, job.model_version, job.job_name, job.description, json.dumps(job.configuration),
                 job.component_name, job.component_version, job.client_token, job.request_fingerprint, now, now),
            )
            row = conn.execute("SELECT * FROM packaging_jobs WHERE id = ?", (cursor.lastrowid,)).fetchone()
        return PackagingJob.from_row(row), True

    def replay(self, token: str, fingerprint: str, now: Optional[float] = None) -> Optional[PackagingJob]:
        """The job this token created within 8 hours when the request is the same; refuse a different one."""
        now = time.time() if now is None else now
        existing = self._by_token(self.db.connect(), token, now)
        if existing is not None and existing.request_fingerprint != fingerprint:
            raise AlreadyExists(
                "ClientToken %r was used for job %r with a different request; use a new token"
                % (token, existing.job_name)
            )
        return existing

    def _by_token(self, conn: sqlite3.Connection, token: str, now: float) -> Optional[PackagingJob]:
        row = conn.execute(
            "SELECT * FROM packaging_jobs WHERE client_token = ? AND created_at > ? ORDER BY id DESC LIMIT 1",
            (token, now - CLIENT_TOKEN_TTL_S),
        ).fetchone()
        return PackagingJob.from_row(row) if row else None

    def _check_free(self, conn: sqlite3.Connection, job: NewJob) -> None:
        row = conn.execute(
            "SELECT job_name FROM packaging_jobs WHERE project_name = ? AND job_name = ?",
            (job.project_name, job.job_name),
        ).fetchone()
        if row:
            raise AlreadyExists(
                "a packaging job named %r exists already in project %r" % (job.job_name, job.project_name)
            )
        row = conn.execute(
            "SELECT job_name, status FROM packaging_jobs WHERE component_name = ? AND component_version = ?"
            " AND status != 'FAILED'",
            (job.component_name, job.component_version),
        ).fetchone()
        if row:
            raise AlreadyExists(
                "component %s version %s exists already (job %r, %s); choose another --component-version"
                % (job.component_name, job.component_version, row["job_name"], row["status"])
            )

    def update(self, job_id: int, status: str, message: str = "", component_arn: str = "",
               recipe_uri: str = "") -> PackagingJob:
        if status not in STATUSES:
            raise InvalidArgument("job status must be one of %s, got %r" % (", ".join(STATUSES), status))
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE packaging_jobs SET status = ?, status_message = ?, updated_at = ?,"
                " component_arn = CASE WHEN ? != '' THEN ? ELSE component_arn END,"
                " recipe_uri = CASE WHEN ? != '' THEN ? ELSE recipe_uri END WHERE id = ?",
                (status, message, time.time(), component_arn, component_arn, recipe_uri, recipe_uri, job_id),
            )
            row = conn.execute("SELECT * FROM packaging_jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise NotFound("packaging job id %d does not exist" % job_id)
        return PackagingJob.from_row(row)

    def unfinished(self) -> List[PackagingJob]:
        """Jobs still CREATED or RUNNING (candidates for `reclaim.reclaim_interrupted`)."""
        rows = self.db.connect().execute(
            "SELECT * FROM packaging_jobs WHERE status IN ('CREATED', 'RUNNING') ORDER BY id").fetchall()
        return [PackagingJob.from_row(r) for r in rows]

    def get(self, job_name: str, project_name: Optional[str] = None) -> PackagingJob:
        sql, args = "SELECT * FROM packaging_jobs WHERE job_name = ?", [job_name]
        if project_name:
            sql, args = sql + " AND project_name = ?", args + [project_name]
        rows = self.db.connect().execute(sql, args).fetchall()
        if not rows:
            where = " in project %r" % project_name if project_name else ""
            raise NotFound("no packaging job named %r%s" % (job_name, where))
        if len(rows) > 1:
            projects = ", ".join(sorted(r["project_name"] for r in rows))
            raise InvalidArgument("job name %r exists in several projects (%s); give --project" % (job_name, projects))
        return PackagingJob.from_row(rows[0])

    def list(self, project_name: Optional[str] = None, max_results: int = 100,
             next_token: Optional[str] = None) -> Tuple[List[PackagingJob], Optional[str]]:
        """Oldest first, `max_results` (1-100) a page; the token is opaque base64 of the last id seen."""
        if not 1 <= max_results <= 100:
            raise InvalidArgument("MaxResults must be 1-100, got %d" % max_results)
        after = _decode_token(next_token)
        sql = "SELECT * FROM packaging_jobs WHERE id > ?"
        args: List[Any] = [after]
        if project_name:
            sql += " AND project_name = ?"
            args.append(project_name)
        rows = self.db.connect().execute(sql + " ORDER BY id LIMIT ?", args + [max_results + 1]).fetchall()
        jobs = [PackagingJob.from_row(r) for r in rows[:max_results]]
        token = _encode_token(jobs[-1].id) if len(rows) > max_results else None
        return jobs, token


def _encode_token(last_id: int) -> str:
    return base64.b64encode(json.dumps({"after": last_id}).encode("ascii")).decode("ascii")


def _decode_token(token: Optional[str]) -> int:
    if not token:
        return 0
    try:
        value = json.loads(base64.b64decode(token.encode("ascii"), validate=True))
        return int(value["after"])
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidArgument("NextToken %r is not one this server returned" % token) from exc
