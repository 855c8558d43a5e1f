"""Projects: the list (with each project's detections), create, delete, and the project overview."""

from __future__ import annotations

from typing import Any

from edge_runtime.console import dashboard
from edge_runtime.console.http import ConsoleError, HttpResponse, Request, html, redirect, url
from edge_runtime.console.layout import e, form, page, table, when

NAME = "[a-zA-Z0-9][a-zA-Z0-9_-]*"
DATASET_TYPES = ("train", "test")


def project_list(console: Any, request: Request) -> HttpResponse:
    projects = console.ops.pages("ListProjects", "Projects")
    rows = []
    for project in projects:
        name = project["ProjectName"]
        figures = dashboard.activity(console.context.store, name)
        rows.append(['<a href="%s">%s</a>' % (url("/p/" + name), e(name)), e(when(project["CreationTimestamp"])),
                     str(figures.images), str(figures.anomalies), "%.1f%%" % (100 * figures.ratio),
                     form(url("/p/%s/delete" % name), request.session, "", "Delete", "inline",
                          "Delete project %s with its datasets and models?" % name)])
    create = form(url("/projects"), request.session,
                  '<label>Project name <input name="name" required pattern="%s" maxlength="255"></label>' % NAME,
                  "Create project", "create")
    body = create + table(["Project", "Created", "Images processed", "Anomalies", "Ratio", ""], rows,
                          "No projects yet: create one.")
    return html(page("Projects", body, request.session, scripts=["console.js"]))


def create_project(console: Any, request: Request) -> HttpResponse:
    name = request.field("name")
    console.ops.call("CreateProject", ProjectName=name)
    request.session.say("ok", "Project %s created." % name)
    return redirect(url("/p/" + name))


def delete_project(console: Any, request: Request, project: str) -> HttpResponse:
    for model in console.ops.pages("ListModels", "Models", ProjectName=project):
        console.ops.call("DeleteModel", ProjectName=project, ModelVersion=model["ModelVersion"])
    described = console.ops.call("DescribeProject", ProjectName=project)["ProjectDescription"]
    for dataset in described.get("Datasets") or []:
        console.ops.call("DeleteDataset", ProjectName=project, DatasetType=dataset["DatasetType"])
    console.ops.call("DeleteProject", ProjectName=project)
    request.session.say("ok", "Project %s deleted." % project)
    return redirect(url("/"))


def _datasets(console: Any, request: Request, project: str, datasets: list[dict[str, Any]]) -> str:
    rows = []
    for dataset in datasets:
        kind = dataset["DatasetType"]
        stats = console.ops.call("DescribeDataset", ProjectName=project, DatasetType=kind)["DatasetDescription"]
        counts = stats.get("ImageStats") or {}
        rows.append(['<a href="%s">%s</a>' % (url("/p/%s/d/%s" % (project, kind)), e(kind)),
                     '<span class="status">%s</span>' % e(dataset["Status"]), e(dataset.get("StatusMessage")),
                     "%d / %d / %d" % (counts.get("Total", 0), counts.get("Normal", 0), counts.get("Anomaly", 0))])
    listing = table(["Dataset", "Status", "Message", "Images / normal / anomaly"], rows, "No datasets yet.")
    existing = {d["DatasetType"] for d in datasets}
    free = [kind for kind in DATASET_TYPES if kind not in existing]
    if not free:
        return listing
    options = "".join('<option value="%s">%s</option>' % (k, k) for k in free)
    inner = ('<label>Dataset <select name="dataset_type">%s</select></label>'
             '<label>Source <select name="source"><option value="empty">empty (upload images)</option>'
             '<option value="folder">folder with normal/ and anomaly/</option>'
             '<option value="manifest">manifest file</option></select></label>'
             '<label>Path or s3:// location <input name="location" placeholder="s3://bucket/prefix/ or /data/parts"'
             '></label>' % options)
    return listing + form(url("/p/%s/datasets" % project), request.session, inner, "Create dataset", "create")


def _models(console: Any, request: Request, project: str, has_train: bool) -> str:
    rows = []
    for model in console.ops.pages("ListModels", "Models", ProjectName=project):
        version = model["ModelVersion"]
        performance = model.get("Performance") or {}
        figures = " ".join("%s %.2f" % (k, performance[k]) for k in ("F1Score", "Precision", "Recall")
                           if k in performance)
        rows.append(['<a href="%s">version %s</a>' % (url("/p/%s/m/%s" % (project, version)), e(version)),
                     '<span class="status">%s</span>' % e(model["Status"]), e(model.get("StatusMessage")),
                     e(figures)])
    train = form(url("/p/%s/models" % project), request.session,
                 '<label>Description <input name="description" maxlength="500" pattern="[0-9A-Za-z._-]*" '
                 'title="letters, digits, . _ -"></label>', "Train a model",
                 "create") if has_train else ""
    return table(["Model", "Status", "Message", "Performance"], rows, "No models yet.") + train


def overview(console: Any, request: Request, project: str) -> HttpResponse:
    described = console.ops.call("DescribeProject", ProjectName=project)["ProjectDescription"]
    datasets = described.get("Datasets") or []
    has_train = any(d["DatasetType"] == "train" for d in datasets)
    body = ('<section><h2>Dashboard</h2>%s</section><section><h2>Datasets</h2>%s</section>'
            '<section><h2>Models</h2>%s</section><section><h2>Edge packaging</h2><p><a href="%s">Packaging jobs</a>'
            '</p></section>' % (dashboard.panel(console.context.store, project),
                                _datasets(console, request, project, datasets),
                                _models(console, request, project, has_train), url("/p/%s/packaging" % project)))
    return html(page(project, body, request.session, [(project, url("/p/" + project))], ["console.js"]))


def create_model(console: Any, request: Request, project: str) -> HttpResponse:
    output = {"S3Location": {"Bucket": console.bucket, "Prefix": "models/%s/" % project}}
    made = console.ops.call("CreateModel", ProjectName=project, OutputConfig=output,
                            Description=request.field("description") or None)["ModelMetadata"]
    return redirect(url("/p/%s/m/%s" % (project, made["ModelVersion"])))


def require_type(dataset_type: str) -> str:
    if dataset_type not in DATASET_TYPES:
        raise ConsoleError("a dataset is train or test, got %r" % dataset_type, 404)
    return dataset_type


ROUTES = [
    ("GET", "/", project_list),
    ("POST", "/projects", create_project),
    ("POST", "/p/(?P<project>%s)/delete" % NAME, delete_project),
    ("GET", "/p/(?P<project>%s)" % NAME, overview),
    ("POST", "/p/(?P<project>%s)/models" % NAME, create_model),
]
