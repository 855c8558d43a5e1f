"""Labelling one image: normal or anomaly, and for segmentation a mask painted per anomaly class.

The page paints in the browser; saving sends the label and the painted mask (PNG) here, where the mask
is checked against the image's size, reduced to the class colours, stored, and the new manifest line
goes to the dataset through UpdateDatasetEntries, the REST API's own path.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from typing import Any

from edge_runtime.console.classes import project_classes
from edge_runtime.console.datasets import DATASET, LABEL_WORDS, _where
from edge_runtime.console.files import object_url, read_object
from edge_runtime.console.http import ConsoleError, HttpResponse, Request, html, json_response, redirect, url
from edge_runtime.console.images import encode_png, quantize_mask
from edge_runtime.console.layout import e, form, page
from edge_runtime.console.lines import changes, label_of, line_for, mask_of
from edge_runtime.console.projects import NAME, require_type
from edge_runtime.console.state import AnomalyClass
from edge_runtime.image_header import image_dimensions
from edge_runtime.server.objects import s3_uri

COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
CLASS_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$")


def _entry(console: Any, project: str, dataset_type: str, entry_id: int) -> dict[str, Any]:
    row = console.context.store.query_one(
        "SELECT line FROM lv_dataset_entries WHERE id = ? AND project = ? AND dataset_type = ?",
        (entry_id, project, dataset_type))
    if row is None:
        raise ConsoleError("the %s dataset of %s has no image %d" % (dataset_type, project, entry_id), 404)
    return json.loads(row["line"])  # type: ignore[no-any-return]


def _neighbours(console: Any, project: str, dataset_type: str, entry_id: int, label: str, cls: str
                ) -> tuple[int | None, int | None]:
    where, args = _where(project, dataset_type, label, cls)
    store = console.context.store
    before = store.query_one("SELECT MAX(id) FROM lv_dataset_entries WHERE %s AND id < ?" % where,
                             tuple(args + [entry_id]))
    after = store.query_one("SELECT MIN(id) FROM lv_dataset_entries WHERE %s AND id > ?" % where,
                            tuple(args + [entry_id]))
    return (before[0] if before else None), (after[0] if after else None)


def editor(console: Any, request: Request, project: str, dataset_type: str, entry_id: str) -> HttpResponse:
    require_type(dataset_type)
    line = _entry(console, project, dataset_type, int(entry_id))
    label, cls = request.arg("label", "all"), request.arg("cls")
    before, after = _neighbours(console, project, dataset_type, int(entry_id), label, cls)
    base = "/p/%s/d/%s" % (project, dataset_type)
    link = lambda i: url("%s/e/%d" % (base, i), label=label, cls=cls) if i else ""  # noqa: E731
    mask, _ = mask_of(line)
    classes = project_classes(console, project, line)
    word = LABEL_WORDS[label_of(line)][0]
    buttons = "".join('<button type="button" data-class="%d" data-color="%s"><span class="swatch" style="background:'
                      '%s"></span>%s <kbd>%d</kbd></button>' % (i, e(c.color), e(c.color), e(c.name), i)
                      for i, c in enumerate(classes, start=1))
    add = form(url("/p/%s/classes" % project), request.session,
               '<label>New class <input name="name" required maxlength="64"></label><label>Colour <input '
               'name="color" type="color" value="#e8590c"></label>', "Add class", "stack")
    body = (
        '<div class="editor" id="editor" data-save="%s" data-next="%s" data-prev="%s" data-mask="%s">'
        '<div class="canvas-wrap"><img id="picture" alt="image to label" src="%s"><canvas id="mask"></canvas></div>'
        '<div class="tools"><p>Current label: <strong id="current-label" class="label-%s">%s</strong></p>'
        '<div><button type="button" id="mark-normal">Normal <kbd>N</kbd></button> '
        '<button type="button" id="mark-anomaly">Anomaly <kbd>A</kbd></button></div>'
        '<p class="hint">Saving moves to the next image. <kbd>←</kbd> <kbd>→</kbd> previous / next.</p>'
        '<h2>Mask</h2><div class="classes" id="classes">%s</div>'
        '<div><button type="button" class="secondary" id="tool-paint">Paint <kbd>P</kbd></button> '
        '<button type="button" class="secondary" id="tool-erase">Erase <kbd>E</kbd></button> '
        '<button type="button" class="secondary" id="clear-mask">Clear</button></div>'
        '<label>Brush <input type="range" id="brush" min="1" max="64" value="8"></label>'
        '<button type="button" id="save-mask">Save as anomaly with mask <kbd>S</kbd></button>%s</div></div>'
        % (e(url("/api%s/e/%s/label" % (base, entry_id))), e(link(after)), e(link(before)),
           e(object_url(mask) if mask else ""), e(object_url(line["source-ref"])), word, word, buttons
           or '<p class="empty">No classes yet: add one to paint a mask.</p>', add))
    return html(page("%s · image %s" % (project, entry_id), body, request.session,
                     [(project, url("/p/" + project)), (dataset_type, url(base, label=label, cls=cls))],
                     ["console.js", "label.js"]))


def add_class(console: Any, request: Request, project: str) -> HttpResponse:
    name, color = request.field("name"), request.field("color").lower()
    console.ops.call("DescribeProject", ProjectName=project)
    if not CLASS_NAME.match(name) or name.upper() == "BACKGROUND":
        raise ConsoleError("a class name is 1-64 letters, digits, spaces, '.', '_' or '-' (and not BACKGROUND), "
                           "got %r" % name)
    if not COLOR.match(color) or color == "#ffffff":
        raise ConsoleError("a class colour is #rrggbb and not white (white is the background), got %r" % color)
    existing = project_classes(console, project, {})
    taken = [c for c in existing if c.color.lower() == color]
    if taken:
        raise ConsoleError("colour %s is already class %s's" % (color, taken[0].name))
    if any(c.name == name for c in existing) or not console.state.add_class(project, AnomalyClass(name, color)):
        raise ConsoleError("project %s already has a class %s" % (project, name))
    request.session.say("ok", "Class %s added." % name)
    return redirect(request.header("referer") or url("/p/" + project))


def save_label(console: Any, request: Request, project: str, dataset_type: str, entry_id: str) -> HttpResponse:
    require_type(dataset_type)
    line = _entry(console, project, dataset_type, int(entry_id))
    body = request.json()
    label = body.get("label")
    if label not in (0, 1):
        raise ConsoleError("label must be 0 (normal) or 1 (anomaly), got %r" % (label,))
    ref = line["source-ref"]
    key: str | None = None
    used: list[int] = []
    classes = project_classes(console, project, line)
    if label == 1 and body.get("mask"):
        key, used = _store_mask(console, project, dataset_type, entry_id, ref, str(body["mask"]), classes)
    mask_ref = s3_uri(console.bucket, key) if key else None
    # the colour map names the classes painted, so the grid's class filter finds exactly these images
    new = line_for(ref, int(label), mask_ref, [(classes[i - 1].name, classes[i - 1].color) for i in used])
    try:
        console.ops.call("UpdateDatasetEntries", ProjectName=project, DatasetType=dataset_type, Changes=changes([new]))
    except Exception:
        if key:
            console.context.objects.delete(console.bucket, key)
        raise
    return json_response({"label": label, "mask": mask_ref})


def _store_mask(console: Any, project: str, dataset_type: str, entry_id: str, ref: str, encoded: str,
                classes: list[AnomalyClass]) -> tuple[str | None, list[int]]:
    """The painted mask stored as class colours on white, and the class indices (1..) painted;
    (None, []) when nothing was painted."""
    try:
        data = base64.b64decode(encoded.split(",", 1)[-1], validate=True)
    except (binascii.Error, ValueError):
        raise ConsoleError("the mask must be a base64 PNG (a data: URL)") from None
    size = image_dimensions(read_object(console, ref))
    if size is None:
        raise ConsoleError("the stored image has no readable size", 500)
    rgb, used = quantize_mask(data, size, [c.color for c in classes])
    if not used:
        return None, []
    key = "masks/%s/%s/%s-%s.png" % (project, dataset_type, entry_id, uuid.uuid4().hex[:8])
    console.context.objects.put(console.bucket, key, encode_png(rgb), "image/png")
    return key, used


ROUTES = [
    ("GET", DATASET + "/e/(?P<entry_id>[0-9]+)", editor),
    ("POST", "/api" + DATASET + "/e/(?P<entry_id>[0-9]+)/label", save_label),
    ("POST", "/p/(?P<project>%s)/classes" % NAME, add_class),
]
