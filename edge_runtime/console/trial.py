"""Trial detection on the hosted model, verification, and the verified images back into training.

Each uploaded image (or each image of an s3:// folder) goes to DetectAnomalies, the REST API's
operation, so trials count on the dashboard like any detection. A prediction marked correct keeps
its label (and, for an anomaly, the predicted mask); one marked incorrect gets the other label. The
verified images are added to the train dataset through UpdateDatasetEntries.
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

from edge_runtime.console.datasets import file_name
from edge_runtime.console.files import list_s3_keys, object_url, read_object
from edge_runtime.console.http import ConsoleError, HttpResponse, Request, html, json_response, redirect, url
from edge_runtime.console.images import CONTENT_TYPES, check_image
from edge_runtime.console.layout import e, form, page
from edge_runtime.console.lines import changes, line_for
from edge_runtime.console.models import MODEL
from edge_runtime.console.overlays import package_dir
from edge_runtime.modelpkg.manifest import read_manifest
from edge_runtime.server.objects import LocalObjects, s3_uri, split_uri

SUFFIXES = (".png", ".jpg", ".jpeg")
MAX_FOLDER = 200


def _detect(console: Any, project: str, version: str, name: str, body: bytes) -> int:
    fmt = check_image(body, name)[0]
    result = console.ops.call("DetectAnomalies", ProjectName=project, ModelVersion=version, Body=body,
                              ContentType=CONTENT_TYPES[fmt])["DetectAnomalyResult"]
    prefix = "trials/%s/%s/%s" % (project, version, uuid.uuid4().hex[:12])
    objects = console.context.objects
    objects.put(console.bucket, "%s-%s" % (prefix, name), body, CONTENT_TYPES[fmt])
    mask_ref = None
    if result.get("AnomalyMask"):
        objects.put(console.bucket, prefix + "-mask.png", bytes(result["AnomalyMask"]), "image/png")
        mask_ref = s3_uri(console.bucket, prefix + "-mask.png")
    return int(console.state.add_trial(project, int(version), name, s3_uri(console.bucket, "%s-%s" % (prefix, name)),
                                       mask_ref, result))


def detect_upload(console: Any, request: Request, project: str, version: str) -> HttpResponse:
    name = file_name(request.header("x-file-name"))
    trial = console.state.trial(_detect(console, project, version, name, request.body))
    return json_response({"id": trial["id"], "anomalous": bool(trial["anomalous"]),
                          "confidence": trial["confidence"], "anomalies": json.loads(trial["anomalies"])})


def detect_folder(console: Any, request: Request, project: str, version: str) -> HttpResponse:
    location = request.field("location").rstrip("/") + "/"
    if not location.startswith("s3://"):
        raise ConsoleError("expected an s3://bucket/prefix/ folder of images, got %r" % location.rstrip("/"))
    bucket, prefix = split_uri(location)
    objects = console.context.objects
    if isinstance(objects, LocalObjects):
        folder = objects.folder(bucket, prefix)
        keys = [prefix + n for n in sorted(os.listdir(folder)) if n.lower().endswith(SUFFIXES)] \
            if os.path.isdir(folder) else []
    else:
        keys = [k for k in list_s3_keys(console, bucket, prefix, "/") if k.lower().endswith(SUFFIXES)]
    if not keys:
        raise ConsoleError("%s holds no PNG or JPEG images" % location)
    for key in keys[:MAX_FOLDER]:
        _detect(console, project, version, key.rsplit("/", 1)[-1], read_object(console, s3_uri(bucket, key)))
    request.session.say("ok", "%d image(s) of %s detected." % (min(len(keys), MAX_FOLDER), location))
    return redirect(url("/p/%s/m/%s/trial" % (project, version)))


def _added(request: Request, base: str, trial: Any) -> str:
    """Where a trial image added to training is edited (its label or mask), as any dataset image."""
    if not trial["added"]:
        return ""
    row = request.console.context.store.query_one(
        "SELECT id FROM lv_dataset_entries WHERE project = ? AND dataset_type = 'train' AND source_ref = ?",
        (trial["project"], trial["image_ref"]))
    if row is None:
        return " · added to training"
    return ' · added to training: <a href="%s">fix its label or mask</a>' % e(
        url("/p/%s/d/train/e/%d" % (trial["project"], row["id"])))


def _row(request: Request, base: str, trial: Any) -> str:
    areas = "".join('<li><span class="swatch" style="background:%s"></span> %s: %.2f%%</li>'
                    % (e(a["color"]), e(a["name"]), 100 * a["area"]) for a in json.loads(trial["anomalies"]))
    overlay = '<img class="mask" alt="" src="%s">' % e(object_url(trial["mask_ref"], 320)) if trial["mask_ref"] else ""
    verdict = "anomaly" if trial["anomalous"] else "normal"
    checked = ""
    if trial["verdict"]:
        checked = '<p>Marked <strong>%s</strong>: label %s%s</p>' % (
            e(trial["verdict"]), "anomaly" if trial["label"] else "normal", _added(request, base, trial))
    buttons = "".join(form(url("%s/trial/%d/verify" % (base, trial["id"])), request.session,
                           '<input type="hidden" name="verdict" value="%s">' % v, label, "inline")
                      for v, label in (("correct", "Correct"), ("incorrect", "Incorrect")))
    return ('<div class="tile trial" data-trial="%d"><div class="frame"><img alt="%s" src="%s">%s</div>'
            '<div class="caption"><div><p><span class="verdict-%s">%s</span> · confidence %.3f · %s</p><ul>%s</ul>%s'
            '%s</div></div></div>' % (trial["id"], e(trial["name"]), e(object_url(trial["image_ref"], 320)), overlay,
                                      verdict, verdict, trial["confidence"], e(trial["name"]), areas, checked,
                                      buttons))


def trial_page(console: Any, request: Request, project: str, version: str) -> HttpResponse:
    base = "/p/%s/m/%s" % (project, version)
    model = console.ops.call("DescribeModel", ProjectName=project, ModelVersion=version)["ModelDescription"]
    order = request.arg("sort", "created")
    trials = console.state.trials(project, int(version), order)
    hosted = model["Status"] == "HOSTED"
    upload = ('<div class="dropzone" id="dropzone" data-url="%s">Drop images to detect, or <label class="inline-label">'
              'choose files <input type="file" id="files" multiple accept="image/png,image/jpeg"></label>'
              '<progress id="upload-progress" max="1" value="0" hidden></progress><p id="upload-status" class="hint">'
              '</p></div>%s' % (e(url("/api" + base + "/detect")), form(url(base + "/detect-folder"), request.session,
                                '<label>or an S3 folder <input name="location" placeholder="s3://bucket/prefix/">'
                                '</label>', "Detect folder", "create"))) if hosted else (
        '<p class="flash error">Model %s is %s: start hosting it on the <a href="%s">model page</a> to try images.'
        '</p>' % (e(version), e(model["Status"]), e(url(base))))
    pending = sum(1 for t in trials if t["verdict"] and not t["added"])
    add = form(url(base + "/trial/add"), request.session, "", "Add %d verified image(s) to the train dataset"
               % pending, "create") if pending else ""
    sorting = '<nav class="filters">Sort: <a class="%s" href="%s">newest</a> <a class="%s" href="%s">least confident' \
              '</a></nav>' % ("on" if order != "confidence" else "", e(url(base + "/trial")),
                              "on" if order == "confidence" else "", e(url(base + "/trial", sort="confidence")))
    rows = "".join(_row(request, base, t) for t in trials) or '<p class="empty">No trials yet.</p>'
    body = upload + add + sorting + '<div class="grid result-list">%s</div>' % rows
    return html(page("%s · model %s trial" % (project, version), body, request.session,
                     [(project, url("/p/" + project)), ("model " + version, url(base)),
                      ("trial", url(base + "/trial"))],
                     ["console.js", "upload.js"]))


def verify(console: Any, request: Request, project: str, version: str, trial_id: str) -> HttpResponse:
    trial = console.state.trial(int(trial_id))
    if trial is None or trial["project"] != project or trial["version"] != int(version):
        raise ConsoleError("model %s/%s has no trial %s" % (project, version, trial_id), 404)
    verdict = request.field("verdict")
    if verdict not in ("correct", "incorrect"):
        raise ConsoleError("a prediction is marked correct or incorrect, got %r" % verdict)
    label = int(trial["anomalous"]) if verdict == "correct" else 1 - int(trial["anomalous"])
    console.state.verify(int(trial_id), verdict, label)
    return redirect(request.header("referer") or url("/p/%s/m/%s/trial" % (project, version)))


def add_verified(console: Any, request: Request, project: str, version: str) -> HttpResponse:
    trials = [t for t in console.state.trials(project, int(version)) if t["verdict"] and not t["added"]]
    if not trials:
        raise ConsoleError("no verified trial images to add: mark predictions correct or incorrect first")
    classes = [(c.name, c.color) for c in read_manifest(package_dir(console, project, version)).classes if c.index]
    lines = []
    for trial in trials:
        keep_mask = trial["label"] == 1 and trial["verdict"] == "correct" and trial["mask_ref"] and classes
        lines.append(line_for(trial["image_ref"], int(trial["label"]), trial["mask_ref"] if keep_mask else None,
                              classes if keep_mask else ()))
    console.ops.call("UpdateDatasetEntries", ProjectName=project, DatasetType="train", Changes=changes(lines))
    console.state.mark_added([int(t["id"]) for t in trials])
    request.session.say("ok", "%d verified image(s) added to the train dataset." % len(lines))
    return redirect(url("/p/%s/m/%s/trial" % (project, version)))


ROUTES = [
    ("GET", MODEL + "/trial", trial_page),
    ("POST", "/api" + MODEL + "/detect", detect_upload),
    ("POST", MODEL + "/detect-folder", detect_folder),
    ("POST", MODEL + "/trial/(?P<trial_id>[0-9]+)/verify", verify),
    ("POST", MODEL + "/trial/add", add_verified),
]
