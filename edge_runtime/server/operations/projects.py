"""CreateProject, DescribeProject, ListProjects, DeleteProject."""

from __future__ import annotations

import time
from typing import Any

from edge_runtime.server.context import ServerContext
from edge_runtime.server.errors import PROJECT, conflict
from edge_runtime.server.operations.common import count, project_row
from edge_runtime.server.pagination import paginate


def _metadata(row: Any) -> dict[str, Any]:
    return {"ProjectArn": row["arn"], "ProjectName": row["name"], "CreationTimestamp": row["created"]}


def create_project(ctx: ServerContext, params: dict[str, Any]) -> dict[str, Any]:
    name = params["ProjectName"]
    with ctx.store.transaction() as tx:
        if tx.one("SELECT name FROM lv_projects WHERE name = ?", (name,)) is not None:
            raise conflict(PROJECT, name, "project %s already exists" % name)
        tx.execute("INSERT INTO lv_projects (name, arn, created) VALUES (?, ?, ?)",
                   (name, ctx.arns.project(name), time.time()))
        row = project_row(ctx, name, tx)
    return {"ProjectMetadata": _metadata(row)}


def describe_project(ctx: ServerContext, params: dict[str, Any]) -> dict[str, Any]:
    row = project_row(ctx, params["ProjectName"])
    datasets = ctx.store.query("SELECT * FROM lv_datasets WHERE project = ? ORDER BY dataset_type DESC", (row["name"],))
    description = _metadata(row)
    description["Datasets"] = [{"DatasetType": d["dataset_type"], "CreationTimestamp": d["created"],
                                "Status": d["status"], "StatusMessage": d["status_message"]} for d in datasets]
    return {"ProjectDescription": description}


def list_projects(ctx: ServerContext, params: dict[str, Any]) -> dict[str, Any]:
    rows = ctx.store.query("SELECT * FROM lv_projects ORDER BY name")
    page, token = paginate(ctx.tokens, "ListProjects", rows, lambda r: r["name"],
                           params.get("MaxResults"), params.get("NextToken"))
    return {"Projects": [_metadata(r) for r in page], "NextToken": token}


def delete_project(ctx: ServerContext, params: dict[str, Any]) -> dict[str, Any]:
    name = params["ProjectName"]
    with ctx.store.transaction() as tx:
        row = project_row(ctx, name, tx)
        models = count(tx, "SELECT COUNT(*) FROM lv_models WHERE project = ?", (name,))
        datasets = count(tx, "SELECT COUNT(*) FROM lv_datasets WHERE project = ?", (name,))
        if models or datasets:
            raise conflict(PROJECT, name, "project %s still has %d model(s) and %d dataset(s); delete them first "
                           "(DeleteModel, DeleteDataset)" % (name, models, datasets))
        tx.execute("DELETE FROM lv_tags WHERE resource_arn = ?", (row["arn"],))
        tx.execute("DELETE FROM lv_detections WHERE project = ?", (name,))  # a new project of that name starts at 0
        tx.execute("DELETE FROM lv_projects WHERE name = ?", (name,))
    return {"ProjectArn": row["arn"]}


OPERATIONS = {
    "CreateProject": create_project,
    "DescribeProject": describe_project,
    "ListProjects": list_projects,
    "DeleteProject": delete_project,
}
