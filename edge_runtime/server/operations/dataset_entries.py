"""ListDatasetEntries (filters, pagination by entry id) and UpdateDatasetEntries (upsert by source-ref)."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from edge_runtime.errors import DatasetError
from edge_runtime.server.context import ServerContext
from edge_runtime.server.errors import DATASET, conflict, validation
from edge_runtime.server.operations.common import dataset_row
from edge_runtime.server.operations.entries import Entry, entries_from_dataset, is_absolute_ref, parse_changes
from edge_runtime.server.pagination import DEFAULT_PAGE_SIZE
from edge_runtime.server.store import Transaction

WRITABLE = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_FAILED_ROLLBACK_COMPLETE")
_FILTERS = ("Labeled", "AnomalyClass", "BeforeCreationDate", "AfterCreationDate", "SourceRefContains")


def replace_entries(tx: Transaction, project: str, dataset_type: str, entries: list[Entry]) -> None:
    """Insert or replace entries by source-ref; a replaced entry keeps its place in the listing order."""
    tx.executemany(
        "INSERT INTO lv_dataset_entries (project, dataset_type, source_ref, label, created, line) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (project, dataset_type, source_ref) DO UPDATE SET "
        "label = excluded.label, created = excluded.created, line = excluded.line",
        [(project, dataset_type, e.source_ref, e.label, e.created, e.line) for e in entries])


def _where(params: dict[str, Any]) -> tuple[str, list[Any]]:
    sql = "project = ? AND dataset_type = ?"
    args: list[Any] = [params["ProjectName"], params["DatasetType"]]
    if params.get("Labeled") is not None:
        sql += " AND label IS NOT NULL" if params["Labeled"] else " AND label IS NULL"
    if params.get("AnomalyClass"):
        sql += " AND label = ?"
        args.append(1 if params["AnomalyClass"] == "anomaly" else 0)
    if params.get("BeforeCreationDate") is not None:
        sql += " AND created < ?"
        args.append(params["BeforeCreationDate"])
    if params.get("AfterCreationDate") is not None:
        sql += " AND created > ?"
        args.append(params["AfterCreationDate"])
    if params.get("SourceRefContains"):
        sql += " AND instr(source_ref, ?) > 0"
        args.append(params["SourceRefContains"])
    return sql, args


def _scope(params: dict[str, Any]) -> str:
    filters = json.dumps({k: params.get(k) for k in _FILTERS}, sort_keys=True)
    digest = hashlib.sha256(filters.encode("utf-8")).hexdigest()[:16]
    return "ListDatasetEntries/%s/%s/%s" % (params["ProjectName"], params["DatasetType"], digest)


def list_dataset_entries(ctx: ServerContext, params: dict[str, Any]) -> dict[str, Any]:
    dataset_row(ctx, params["ProjectName"], params["DatasetType"])
    where, args = _where(params)
    after = 0
    if params.get("NextToken"):
        after = int(ctx.tokens.decode(_scope(params), params["NextToken"]))
    size = params.get("MaxResults") or DEFAULT_PAGE_SIZE
    rows = ctx.store.query("SELECT id, line FROM lv_dataset_entries WHERE %s AND id > ? ORDER BY id LIMIT ?" % where,
                           tuple(args + [after, size + 1]))
    page = rows[:size]
    token = ctx.tokens.encode(_scope(params), page[-1]["id"]) if len(rows) > size else None
    return {"DatasetEntries": [r["line"] for r in page], "NextToken": token}


def _changed_entries(ctx: ServerContext, changes: bytes, source: str | None) -> list[Entry]:
    try:
        text = changes.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise validation("Changes must be UTF-8 JSON Lines") from None
    base = ctx.objects.manifest_base(_source_uri(source)) if source else ""
    try:
        dataset = parse_changes(text, base)
    except DatasetError as exc:
        raise validation("Changes hold JSON lines the manifest rules do not allow: %s" % exc) from None
    relative = [s.line for s in dataset.samples if not is_absolute_ref(s.image_ref)
                or (s.mask_ref is not None and not is_absolute_ref(s.mask_ref))]
    if relative:
        raise validation("Changes line(s) %s reference images by relative paths; use s3://bucket/key"
                         % ", ".join(str(n) for n in relative[:10]))
    try:
        return entries_from_dataset(dataset, ctx.objects.publish)
    except DatasetError as exc:
        raise validation("Changes: %s" % exc) from None


def _source_uri(source: str) -> str:
    manifest = json.loads(source)
    return "s3://%s/%s" % (manifest["Bucket"], manifest["Key"])


def update_dataset_entries(ctx: ServerContext, params: dict[str, Any]) -> dict[str, Any]:
    project, dataset_type = params["ProjectName"], params["DatasetType"]
    row = dataset_row(ctx, project, dataset_type)
    entries = _changed_entries(ctx, params["Changes"], row["source"])
    with ctx.store.transaction() as tx:
        row = dataset_row(ctx, project, dataset_type, tx)
        if row["status"] not in WRITABLE:
            raise conflict(DATASET, "%s/%s" % (project, dataset_type),
                           "dataset %s/%s is %s; entries can be updated once it is complete"
                           % (project, dataset_type, row["status"]))
        replace_entries(tx, project, dataset_type, entries)
        tx.execute("UPDATE lv_datasets SET status = 'UPDATE_COMPLETE', status_message = ?, updated = ? "
                   "WHERE project = ? AND dataset_type = ?",
                   ("%d entr%s added or updated" % (len(entries), "y" if len(entries) == 1 else "ies"), time.time(),
                    project, dataset_type))
    return {"Status": "UPDATE_COMPLETE"}
