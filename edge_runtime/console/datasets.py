"""Datasets: create (empty, from a folder, from a manifest), the thumbnail grid, uploads, delete."""

from __future__ import annotations

import json
import uuid
from typing import Any

from edge_runtime.console import imports
from edge_runtime.console.classes import project_classes
from edge_runtime.console.files import object_url
from edge_runtime.console.http import ConsoleError, HttpResponse, Request, html, json_response, redirect, url
from edge_runtime.console.images import CONTENT_TYPES, check_image
from edge_runtime.console.layout import e, form, page
from edge_runtime.console.lines import changes, label_of, line_for, mask_of
from edge_runtime.console.projects import NAME, require_type
from edge_runtime.server.objects import s3_uri

PAGE_SIZE = 60
FILTERS = {"all": "", "normal": " AND label = 0", "anomaly": " AND label = 1", "unlabelled": " AND label IS NULL"}
LABEL_WORDS = {0: ("normal", "label-normal"), 1: ("anomaly", "label-anomaly"), None: ("unlabelled", "label-none")}
DATASET = "/p/(?P<project>%s)/d/(?P<dataset_type>[a-z]+)" % NAME


def create_dataset(console: Any, request: Request, project: str) -> HttpResponse:
    dataset_type = require_type(request.field("dataset_type"))
    source, location = request.field("source", "empty"), request.field("location")
    if source == "empty":
        console.ops.call("CreateDataset", ProjectName=project, DatasetType=dataset_type)
        message = "Empty %s dataset created: upload images." % dataset_type
    elif source == "folder":
        message = imports.from_folder(console, project, dataset_type, location)
    elif source == "manifest":
        message = imports.from_manifest(console, project, dataset_type, location)
    else:
        raise ConsoleError("the source is empty, folder or manifest, got %r" % source)
    request.session.say("ok", message)
    return redirect(url("/p/%s/d/%s" % (project, dataset_type)))


def delete_dataset(console: Any, request: Request, project: str, dataset_type: str) -> HttpResponse:
    console.ops.call("DeleteDataset", ProjectName=project, DatasetType=require_type(dataset_type))
    request.session.say("ok", "The %s dataset was deleted." % dataset_type)
    return redirect(url("/p/" + project))


def _where(project: str, dataset_type: str, label: str, cls: str) -> tuple[str, list[Any]]:
    sql = "project = ? AND dataset_type = ?" + FILTERS.get(label, "")
    args: list[Any] = [project, dataset_type]
    if cls:
        sql += " AND instr(line, ?) > 0"
        args.append(json.dumps({"class-name": cls}, separators=(",", ":"))[1:-1])
    return sql, args


def entry_page(console: Any, project: str, dataset_type: str, label: str, cls: str, number: int
               ) -> tuple[list[Any], int]:
    """One page of entries (id, line) and the count matching the filter; the store's index does the work."""
    where, args = _where(project, dataset_type, label, cls)
    store = console.context.store
    total = int(store.query_one("SELECT COUNT(*) FROM lv_dataset_entries WHERE " + where, tuple(args))[0])
    rows = store.query("SELECT id, line FROM lv_dataset_entries WHERE %s ORDER BY id LIMIT ? OFFSET ?" % where,
                       tuple(args + [PAGE_SIZE, (number - 1) * PAGE_SIZE]))
    return rows, total


def _tile(project: str, dataset_type: str, row: Any, query: str) -> str:
    line = json.loads(row["line"])
    label = label_of(line)
    mask, _ = mask_of(line)
    word, css = LABEL_WORDS[label]
    overlay = '<img class="mask" alt="" loading="lazy" src="%s">' % e(object_url(mask, 160)) if mask else ""
    name = line["source-ref"].rsplit("/", 1)[-1]
    return ('<div class="tile" data-entry="%d"><a href="%s"><div class="frame"><img alt="%s" loading="lazy" '
            'src="%s">%s</div><div class="caption"><span class="%s">%s</span><span>%s</span></div></a></div>'
            % (row["id"], e(url("/p/%s/d/%s/e/%d" % (project, dataset_type, row["id"])) + query), e(name),
               e(object_url(line["source-ref"], 160)), overlay, css, word, e(name[-18:])))


def _filters(base: str, label: str, cls: str, classes: list[Any]) -> str:
    links = ['<a class="%s" href="%s">%s</a>' % ("on" if key == label and not cls else "", e(url(base, label=key)),
                                                 key) for key in FILTERS]
    links += ['<a class="%s" href="%s"><span class="swatch" style="background:%s"></span> %s</a>'
              % ("on" if c.name == cls else "", e(url(base, label="anomaly", cls=c.name)), e(c.color), e(c.name))
              for c in classes]
    return '<nav class="filters" aria-label="filter">Show: %s</nav>' % " ".join(links)


def grid(console: Any, request: Request, project: str, dataset_type: str) -> HttpResponse:
    require_type(dataset_type)
    described = console.ops.call("DescribeDataset", ProjectName=project, DatasetType=dataset_type)
    stats = described["DatasetDescription"]
    label, cls = request.arg("label", "all"), request.arg("cls")
    number = max(1, int(request.arg("page", "1"))) if request.arg("page", "1").isdigit() else 1
    rows, total = entry_page(console, project, dataset_type, label, cls, number)
    base = "/p/%s/d/%s" % (project, dataset_type)
    query = "?" + "&".join("%s=%s" % (k, v) for k, v in (("label", label), ("cls", cls)) if v)
    last = max(1, -(-total // PAGE_SIZE))
    pager = '<div class="pager">%s<span>page %d of %d · %d image(s)</span>%s</div>' % (
        '<a rel="prev" href="%s">← previous</a>' % e(url(base, label=label, cls=cls, page=number - 1))
        if number > 1 else "", number, last, total,
        '<a rel="next" href="%s">next →</a>' % e(url(base, label=label, cls=cls, page=number + 1))
        if number < last else "")
    counts = stats.get("ImageStats") or {}
    summary = '<p class="status">%s: %s · %d images, %d normal, %d anomaly, %d labelled</p>' % (
        e(stats["Status"]), e(stats.get("StatusMessage")), counts.get("Total", 0), counts.get("Normal", 0),
        counts.get("Anomaly", 0), counts.get("Labeled", 0))
    upload = ('<div class="dropzone" id="dropzone" data-url="%s">Drop PNG or JPEG images here, or '
              '<label class="inline-label">choose files <input type="file" id="files" multiple '
              'accept="image/png,image/jpeg"></label><progress id="upload-progress" max="1" value="0" hidden>'
              '</progress><p id="upload-status" class="hint"></p></div>' % e(url("/api" + base + "/upload")))
    tiles = "".join(_tile(project, dataset_type, r, query) for r in rows) or '<p class="empty">No images here.</p>'
    remove = form(url(base + "/delete"), request.session, "", "Delete dataset", "inline",
                  "Delete the %s dataset of %s?" % (dataset_type, project))
    body = (summary + upload + _filters(base, label, cls, project_classes(console, project, {})) + pager
            + '<div class="grid" id="grid">%s</div>' % tiles + pager + remove)
    return html(page("%s · %s dataset" % (project, dataset_type), body, request.session,
                     [(project, url("/p/" + project)), (dataset_type, url(base))], ["console.js", "upload.js"]))


def upload(console: Any, request: Request, project: str, dataset_type: str) -> HttpResponse:
    """One image per request (the page sends many, with progress); stored, then added as an unlabelled line."""
    require_type(dataset_type)
    name = file_name(request.header("x-file-name"))
    fmt, _, _ = check_image(request.body, name)
    key = "datasets/%s/%s/%s-%s" % (project, dataset_type, uuid.uuid4().hex[:12], name)
    objects = console.context.objects
    objects.put(console.bucket, key, request.body, CONTENT_TYPES[fmt])
    ref = s3_uri(console.bucket, key)
    try:
        console.ops.call("UpdateDatasetEntries", ProjectName=project, DatasetType=dataset_type,
                         Changes=changes([line_for(ref, None)]))
    except Exception:
        objects.delete(console.bucket, key)  # nothing half-written: no stored image without its entry
        raise
    return json_response({"ref": ref, "name": name})


def file_name(header: str) -> str:
    from urllib.parse import unquote

    name = unquote(header).replace("\\", "/").rsplit("/", 1)[-1].strip() or "image"
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in name)[-100:]
    return safe.lstrip(".") or "image"


ROUTES = [
    ("POST", "/p/(?P<project>%s)/datasets" % NAME, create_dataset),
    ("GET", DATASET, grid),
    ("POST", DATASET + "/delete", delete_dataset),
    ("POST", "/api" + DATASET + "/upload", upload),
]
