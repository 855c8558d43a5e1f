"""Look-ups the operations share: existing projects, datasets and models, or the matching error."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from edge_runtime.server.context import ServerContext
from edge_runtime.server.errors import DATASET, MODEL, PROJECT, not_found
from edge_runtime.server.store import Transaction

Row = sqlite3.Row


def project_row(ctx: ServerContext, name: str, tx: Transaction | None = None) -> Row:
    sql, args = "SELECT * FROM lv_projects WHERE name = ?", (name,)
    row = tx.one(sql, args) if tx is not None else ctx.store.query_one(sql, args)
    if row is None:
        raise not_found(PROJECT, name, "project %s does not exist" % name)
    return row


def dataset_row(ctx: ServerContext, project: str, dataset_type: str, tx: Transaction | None = None) -> Row:
    project_row(ctx, project, tx)
    sql, args = "SELECT * FROM lv_datasets WHERE project = ? AND dataset_type = ?", (project, dataset_type)
    row = tx.one(sql, args) if tx is not None else ctx.store.query_one(sql, args)
    if row is None:
        raise not_found(DATASET, "%s/%s" % (project, dataset_type),
                        "project %s has no %s dataset" % (project, dataset_type))
    return row


def model_row(ctx: ServerContext, project: str, version: str, tx: Transaction | None = None) -> Row:
    """`version` is a number or `latest` (the highest version that exists)."""
    project_row(ctx, project, tx)
    args: tuple[object, ...] = (project,)
    sql = "SELECT * FROM lv_models WHERE project = ? ORDER BY version DESC LIMIT 1"
    if version != "latest":
        sql, args = "SELECT * FROM lv_models WHERE project = ? AND version = ?", (project, int(version))
    row = tx.one(sql, args) if tx is not None else ctx.store.query_one(sql, args)
    if row is None:
        raise not_found(MODEL, "%s/%s" % (project, version),
                        "project %s has no model version %s" % (project, version))
    return row


def count(tx: Transaction, sql: str, args: tuple[object, ...]) -> int:
    row = tx.one(sql, args)
    return 0 if row is None else int(row[0])


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True)
