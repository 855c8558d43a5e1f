"""CreateDataset, DescribeDataset, DeleteDataset.

A dataset from a manifest is created in the background (CREATE_IN_PROGRESS -> CREATE_COMPLETE or
CREATE_FAILED with the reader's message naming file:line); without a source it is created empty at
once. An import a restart interrupted runs again at start-up from the stored source.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from edge_runtime.datasets.manifest import decode_manifest_bytes, parse_manifest_text
from edge_runtime.errors import EdgeRuntimeError
from edge_runtime.server.context import ServerContext
from edge_runtime.server.errors import DATASET, conflict
from edge_runtime.server.objects import s3_uri
from edge_runtime.server.operations import dataset_entries
from edge_runtime.server.operations.common import count, dataset_row, project_row
from edge_runtime.server.operations.entries import Entry, entries_from_dataset

log = logging.getLogger(__name__)
BUSY = ("CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "DELETE_IN_PROGRESS")
MAX_MESSAGE = 2000


def _metadata(row: Any) -> dict[str, Any]:
    return {"DatasetType": row["dataset_type"], "CreationTimestamp": row["created"], "Status": row["status"],
            "StatusMessage": row["status_message"]}


def create_dataset(ctx: ServerContext, params: dict[str, Any]) -> dict[str, Any]:
    project, dataset_type = params["ProjectName"], params["DatasetType"]
    manifest = (params.get("DatasetSource") or {}).get("GroundTruthManifest", {}).get("S3Object")
    now = time.time()
    status, message = ("CREATE_IN_PROGRESS", "creating the dataset from the manifest") if manifest else \
        ("CREATE_COMPLETE", "empty dataset created; add entries with UpdateDatasetEntries")
    with ctx.store.transaction() as tx:
        project_row(ctx, project, tx)
        if tx.one("SELECT status FROM lv_datasets WHERE project = ? AND dataset_type = ?", (project, dataset_type)):
            raise conflict(DATASET, "%s/%s" % (project, dataset_type),
                           "project %s already has a %s dataset; delete it first" % (project, dataset_type))
        tx.execute("INSERT INTO lv_datasets (project, dataset_type, created, updated, status, status_message, source)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (project, dataset_type, now, now, status, message, json.dumps(manifest) if manifest else None))
        row = dataset_row(ctx, project, dataset_type, tx)
    if manifest:
        _start_import(ctx, project, dataset_type, manifest)
    return {"DatasetMetadata": _metadata(row)}


def _start_import(ctx: ServerContext, project: str, dataset_type: str, manifest: dict[str, Any]) -> None:
    ctx.background.spawn("import-%s-%s" % (project, dataset_type),
                         lambda: _import(ctx, project, dataset_type, manifest))


def read_source(ctx: ServerContext, manifest: dict[str, Any]) -> list[Entry]:
    """The manifest at S3Object {Bucket, Key[, VersionId]} as entries; DatasetError names file:line."""
    uri = s3_uri(manifest["Bucket"], manifest["Key"])
    data = ctx.objects.get(manifest["Bucket"], manifest["Key"], manifest.get("VersionId"))
    dataset = parse_manifest_text(decode_manifest_bytes(data, uri), uri, ctx.objects.manifest_base(uri))
    return entries_from_dataset(dataset, ctx.objects.publish)


def _import(ctx: ServerContext, project: str, dataset_type: str, manifest: dict[str, Any]) -> None:
    try:
        entries = read_source(ctx, manifest)
        status, message = "CREATE_COMPLETE", "dataset created from %d manifest line(s)" % len(entries)
    except EdgeRuntimeError as exc:
        entries, status, message = [], "CREATE_FAILED", str(exc)[:MAX_MESSAGE]
    except Exception as exc:  # record the failure on the dataset instead of leaving it in progress
        log.exception("dataset import %s/%s failed", project, dataset_type)
        entries, status, message = [], "CREATE_FAILED", "internal error while reading the manifest: %s" % exc
    with ctx.store.transaction() as tx:
        row = tx.one("SELECT status FROM lv_datasets WHERE project = ? AND dataset_type = ?", (project, dataset_type))
        if row is None or row["status"] != "CREATE_IN_PROGRESS":
            return  # deleted meanwhile
        dataset_entries.replace_entries(tx, project, dataset_type, entries)
        tx.execute("UPDATE lv_datasets SET status = ?, status_message = ?, updated = ? WHERE project = ? AND "
                   "dataset_type = ?", (status, message, time.time(), project, dataset_type))


def describe_dataset(ctx: ServerContext, params: dict[str, Any]) -> dict[str, Any]:
    project, dataset_type = params["ProjectName"], params["DatasetType"]
    row = dataset_row(ctx, project, dataset_type)
    stats = ctx.store.query_one(
        "SELECT COUNT(*) AS total, SUM(label IS NOT NULL) AS labeled, SUM(label = 0) AS normal, "
        "SUM(label = 1) AS anomaly FROM lv_dataset_entries WHERE project = ? AND dataset_type = ?",
        (project, dataset_type))
    image_stats = {k: int((stats[k.lower()] if stats else 0) or 0) for k in ("Total", "Labeled", "Normal", "Anomaly")}
    description = _metadata(row)
    description.update({"ProjectName": project, "LastUpdatedTimestamp": row["updated"], "ImageStats": image_stats})
    return {"DatasetDescription": description}


def delete_dataset(ctx: ServerContext, params: dict[str, Any]) -> dict[str, Any]:
    project, dataset_type = params["ProjectName"], params["DatasetType"]
    resource = "%s/%s" % (project, dataset_type)
    with ctx.store.transaction() as tx:
        row = dataset_row(ctx, project, dataset_type, tx)
        if row["status"] in BUSY:
            raise conflict(DATASET, resource, "dataset %s is %s; try again when it finishes"
                           % (resource, row["status"]))
        if count(tx, "SELECT COUNT(*) FROM lv_models WHERE project = ? AND status = 'TRAINING'", (project,)):
            raise conflict(DATASET, resource, "a model of project %s is training from this dataset; wait until "
                           "it finishes" % project)
        tx.execute("DELETE FROM lv_dataset_entries WHERE project = ? AND dataset_type = ?", (project, dataset_type))
        tx.execute("DELETE FROM lv_datasets WHERE project = ? AND dataset_type = ?", (project, dataset_type))
    return {}


def recover(ctx: ServerContext) -> None:
    """Imports cut short by a restart run again from their stored source."""
    for row in ctx.store.query("SELECT * FROM lv_datasets WHERE status = 'CREATE_IN_PROGRESS'"):
        if row["source"]:
            log.info("resuming the import of dataset %s/%s", row["project"], row["dataset_type"])
            _start_import(ctx, row["project"], row["dataset_type"], json.loads(row["source"]))
    with ctx.store.transaction() as tx:
        tx.execute("UPDATE lv_datasets SET status = 'UPDATE_FAILED_ROLLBACK_COMPLETE', status_message = "
                   "'the update was interrupted by a server restart and was not applied' "
                   "WHERE status = 'UPDATE_IN_PROGRESS'")


OPERATIONS = {
    "CreateDataset": create_dataset,
    "DescribeDataset": describe_dataset,
    "DeleteDataset": delete_dataset,
    "ListDatasetEntries": dataset_entries.list_dataset_entries,
    "UpdateDatasetEntries": dataset_entries.update_dataset_entries,
}
