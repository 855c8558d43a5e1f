"""CreateModel, DescribeModel, ListModels, DeleteModel.

Versions count up per project and are never reused. A model cannot be deleted while it trains or is
hosted (ConflictException, as the API documents: stop it first). Training a restart interrupted is
marked TRAINING_FAILED with that reason at start-up; a deletion it interrupted is finished.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from typing import Any

from edge_runtime.server.context import ServerContext
from edge_runtime.server.errors import DATASET, MODEL, conflict, not_found
from edge_runtime.server.operations.common import dumps, loads, model_row, project_row
from edge_runtime.server.operations.model_training import model_dir, start_training
from edge_runtime.server.operations.tags import check_tags, write_tags
from edge_runtime.server.pagination import paginate
from edge_runtime.server.store import Transaction
from edge_runtime.server.training import load_trainer

log = logging.getLogger(__name__)
READY_DATASET = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_FAILED_ROLLBACK_COMPLETE")
UNDELETABLE = ("TRAINING", "STARTING_HOSTING", "HOSTED", "STOPPING_HOSTING", "DELETING")


def metadata(row: Any) -> dict[str, Any]:
    return {"CreationTimestamp": row["created"], "ModelVersion": str(row["version"]), "ModelArn": row["arn"],
            "Description": row["description"], "Status": row["status"], "StatusMessage": row["status_message"],
            "Performance": loads(row["performance"])}


def _snapshot(tx: Transaction, project: str) -> tuple[list[str], list[str]]:
    """Entry lines of the train and test datasets; refuses when there is nothing ready to train on."""
    datasets = {r["dataset_type"]: r for r in tx.all("SELECT * FROM lv_datasets WHERE project = ?", (project,))}
    if "train" not in datasets:
        raise not_found(DATASET, "%s/train" % project, "project %s has no train dataset; create one with "
                        "CreateDataset before CreateModel" % project)
    for kind, row in datasets.items():
        if row["status"] not in READY_DATASET:
            raise conflict(DATASET, "%s/%s" % (project, kind), "the %s dataset of project %s is %s; a model can be "
                           "created once it is complete" % (kind, project, row["status"]))
    lines = {kind: [r["line"] for r in tx.all("SELECT line FROM lv_dataset_entries WHERE project = ? AND "
                                              "dataset_type = ? ORDER BY id", (project, kind))]
             for kind in datasets}
    return lines["train"], lines.get("test", [])


def create_model(ctx: ServerContext, params: dict[str, Any]) -> dict[str, Any]:
    project = params["ProjectName"]
    tags = check_tags(params.get("Tags") or [])
    with ctx.store.transaction() as tx:
        version = int(project_row(ctx, project, tx)["next_version"])
        train, test = _snapshot(tx, project)
        arn = ctx.arns.model(project, version)
        tx.execute("UPDATE lv_projects SET next_version = ? WHERE name = ?", (version + 1, project))
        tx.execute("INSERT INTO lv_models (project, version, arn, created, description, status, status_message, "
                   "output_config, kms_key_id) VALUES (?, ?, ?, ?, ?, 'TRAINING', 'training is queued', ?, ?)",
                   (project, version, arn, time.time(), params.get("Description"), dumps(params["OutputConfig"]),
                    params.get("KmsKeyId")))
        write_tags(tx, arn, tags)
        row = model_row(ctx, project, str(version), tx)
    start_training(ctx, project, version, train, test)
    return {"ModelMetadata": metadata(row)}


def describe_model(ctx: ServerContext, params: dict[str, Any]) -> dict[str, Any]:
    row = model_row(ctx, params["ProjectName"], params["ModelVersion"])
    description = metadata(row)
    description.update({
        "OutputConfig": loads(row["output_config"]), "EvaluationManifest": loads(row["evaluation_manifest"]),
        "EvaluationResult": loads(row["evaluation_result"]), "EvaluationEndTimestamp": row["evaluation_end"],
        "KmsKeyId": row["kms_key_id"], "MinInferenceUnits": row["min_inference_units"],
        "MaxInferenceUnits": row["max_inference_units"],
    })
    return {"ModelDescription": description}


def list_models(ctx: ServerContext, params: dict[str, Any]) -> dict[str, Any]:
    project = params["ProjectName"]
    project_row(ctx, project)
    rows = ctx.store.query("SELECT * FROM lv_models WHERE project = ? ORDER BY version", (project,))
    page, token = paginate(ctx.tokens, "ListModels/" + project, rows, lambda r: r["version"],
                           params.get("MaxResults"), params.get("NextToken"))
    return {"Models": [metadata(r) for r in page], "NextToken": token}


def delete_model(ctx: ServerContext, params: dict[str, Any]) -> dict[str, Any]:
    project = params["ProjectName"]
    with ctx.store.transaction() as tx:
        row = model_row(ctx, project, params["ModelVersion"], tx)
        if row["status"] in UNDELETABLE:
            hint = "stop it with StopModel first" if "HOST" in row["status"] else "wait until it finishes"
            raise conflict(MODEL, row["arn"], "model %s is %s; %s" % (row["arn"], row["status"], hint))
        tx.execute("UPDATE lv_models SET status = 'DELETING', status_message = 'deleting' WHERE project = ? AND "
                   "version = ?", (project, row["version"]))
    _finish_delete(ctx, project, int(row["version"]), row["arn"])
    return {"ModelArn": row["arn"]}


def _finish_delete(ctx: ServerContext, project: str, version: int, arn: str) -> None:
    folder = model_dir(ctx, project, version)
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    with ctx.store.transaction() as tx:
        tx.execute("DELETE FROM lv_tags WHERE resource_arn = ?", (arn,))
        tx.execute("DELETE FROM lv_models WHERE project = ? AND version = ?", (project, version))


def recover(ctx: ServerContext) -> None:
    load_trainer(ctx.config.training.trainer)  # a misconfigured trainer stops the start, not the first job
    with ctx.store.transaction() as tx:
        interrupted = tx.execute(
            "UPDATE lv_models SET status = 'TRAINING_FAILED', status_message = 'training was interrupted by a "
            "server restart; create the model again' WHERE status = 'TRAINING'").rowcount
    if interrupted:
        log.warning("%d training job(s) were interrupted by a restart and are marked TRAINING_FAILED", interrupted)
    for row in ctx.store.query("SELECT project, version, arn FROM lv_models WHERE status = 'DELETING'"):
        _finish_delete(ctx, row["project"], int(row["version"]), row["arn"])


OPERATIONS = {
    "CreateModel": create_model,
    "DescribeModel": describe_model,
    "ListModels": list_models,
    "DeleteModel": delete_model,
}
