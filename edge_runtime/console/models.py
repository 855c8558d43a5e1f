"""A model: training status with live progress, hosting start/stop, and links to what it offers."""

from __future__ import annotations

from typing import Any

from edge_runtime.console.http import HttpResponse, Request, html, json_response, redirect, url
from edge_runtime.console.layout import e, form, page, when
from edge_runtime.console.projects import NAME

MODEL = "/p/(?P<project>%s)/m/(?P<version>[0-9]+)" % NAME
DONE = ("TRAINED", "TRAINING_FAILED", "HOSTED", "HOSTING_FAILED")


def _describe(console: Any, project: str, version: str) -> dict[str, Any]:
    described = console.ops.call("DescribeModel", ProjectName=project, ModelVersion=version)
    return described["ModelDescription"]  # type: ignore[no-any-return]


def model_page(console: Any, request: Request, project: str, version: str) -> HttpResponse:
    model = _describe(console, project, version)
    status = model["Status"]
    base = "/p/%s/m/%s" % (project, version)
    performance = model.get("Performance") or {}
    figures = "".join("<div><dt>%s</dt><dd>%.3f</dd></div>" % (e(k), v) for k, v in performance.items())
    actions = []
    if status in ("TRAINED", "HOSTING_FAILED"):
        actions.append(form(url(base + "/start"), request.session, "", "Start hosting", "inline"))
    if status in ("HOSTED", "STARTING_HOSTING", "HOSTING_FAILED"):
        actions.append(form(url(base + "/stop"), request.session, "", "Stop hosting", "inline"))
    links = []
    if model.get("EvaluationResult"):
        links.append('<a href="%s">Evaluation</a>' % url(base + "/evaluation"))
    if status == "HOSTED":
        links.append('<a href="%s">Trial detection</a>' % url(base + "/trial"))
    if model.get("EvaluationResult"):
        links.append('<a href="%s">Package for the edge</a>' % url("/p/%s/packaging" % project, model=version))
    body = ('<section id="model-status" data-status-url="%s" data-done="%s"><h2>Status</h2>'
            '<p><span class="status" id="status">%s</span> <span id="status-message">%s</span></p>'
            '<p class="hint">Created %s · %s</p>%s</section>'
            '<section><h2>Performance</h2><dl class="stats">%s</dl><p>%s</p></section>'
            % (e(url("/api" + base + "/status")), " ".join(DONE), e(status), e(model.get("StatusMessage")),
               e(when(model.get("CreationTimestamp"))), e(model.get("Description") or "no description"),
               " ".join(actions), figures or '<dd class="empty">after training</dd>', " · ".join(links)))
    return html(page("%s · model %s" % (project, version), body, request.session,
                     [(project, url("/p/" + project)), ("model " + version, url(base))], ["console.js", "model.js"]))


def status(console: Any, request: Request, project: str, version: str) -> HttpResponse:
    model = _describe(console, project, version)
    return json_response({"status": model["Status"], "message": model.get("StatusMessage") or ""})


def start(console: Any, request: Request, project: str, version: str) -> HttpResponse:
    console.ops.call("StartModel", ProjectName=project, ModelVersion=version, MinInferenceUnits=1)
    request.session.say("ok", "Hosting model %s: it starts in a few seconds." % version)
    return redirect(url("/p/%s/m/%s" % (project, version)))


def stop(console: Any, request: Request, project: str, version: str) -> HttpResponse:
    console.ops.call("StopModel", ProjectName=project, ModelVersion=version)
    request.session.say("ok", "Model %s is being stopped." % version)
    return redirect(url("/p/%s/m/%s" % (project, version)))


ROUTES = [
    ("GET", MODEL, model_page),
    ("POST", "/api" + MODEL + "/status", status),
    ("GET", "/api" + MODEL + "/status", status),
    ("POST", MODEL + "/start", start),
    ("POST", MODEL + "/stop", stop),
]
