"""Edge packaging: the StartModelPackagingJob form, the project's jobs, one job's status and recipe."""

from __future__ import annotations

import json
from typing import Any

from edge_runtime.console.files import read_object
from edge_runtime.console.http import ConsoleError, HttpResponse, Request, html, redirect, url
from edge_runtime.console.layout import e, form, page, table, when
from edge_runtime.console.projects import NAME
from edge_runtime.errors import EdgeRuntimeError

DEVICES = ("", "jetson_xavier")
PLATFORMS = (("", "—"), ("LINUX/X86_64", "Linux x86-64 (CPU)"), ("LINUX/ARM64", "Linux ARM64 (CPU)"),
             ("LINUX/ARM64/NVIDIA", "Linux ARM64 + NVIDIA"), ("LINUX/X86_64/NVIDIA", "Linux x86-64 + NVIDIA"))
JOB = "/p/(?P<project>%s)/packaging" % NAME


def _select(name: str, options: Any, chosen: str = "") -> str:
    return '<select name="%s">%s</select>' % (name, "".join(
        '<option value="%s"%s>%s</option>' % (e(v), " selected" if v == chosen else "", e(label))
        for v, label in options))


def jobs_page(console: Any, request: Request, project: str) -> HttpResponse:
    models = [m for m in console.ops.pages("ListModels", "Models", ProjectName=project)
              if m["Status"] in ("TRAINED", "HOSTED", "STARTING_HOSTING", "STOPPING_HOSTING", "HOSTING_FAILED")]
    jobs = console.ops.pages("ListModelPackagingJobs", "ModelPackagingJobs", ProjectName=project)
    rows = [['<a href="%s">%s</a>' % (url("/p/%s/packaging/%s" % (project, j["JobName"])), e(j["JobName"])),
             e(j.get("ModelVersion")), '<span class="status">%s</span>' % e(j.get("Status")),
             e(j.get("StatusMessage")), e(when(j.get("CreationTimestamp")))] for j in jobs]
    chosen = request.arg("model")
    inner = (
        '<label>Model %s</label><label>Job name <input name="job_name" maxlength="64" pattern="[a-zA-Z0-9_-]*">'
        '</label><label>Target device %s</label><label>or target platform %s</label>'
        '<label>Compiler options (JSON) <input name="compiler_options" placeholder=\'{"mcpu": "core-avx2"}\'>'
        '</label><label>Component name <input name="component_name" required placeholder="com.example.Parts">'
        '</label><label>Component version <input name="component_version" placeholder="1.0.0"></label>'
        '<label>Component description <input name="component_description" maxlength="200"></label>'
        '<label>S3 output bucket <input name="bucket" required value="%s"></label>'
        '<label>S3 prefix <input name="prefix" value="components/%s"></label>'
        '<label>Tags (key=value, one per line) <textarea name="tags" rows="2"></textarea></label>'
        % (_select("model", [(m["ModelVersion"], "version " + m["ModelVersion"]) for m in models], chosen),
           _select("target_device", [(d, d or "—") for d in DEVICES]), _select("target_platform", PLATFORMS),
           e(console.bucket), e(project)))
    start = form(url("/p/%s/packaging" % project), request.session, inner, "Start packaging job", "create") \
        if models else '<p class="empty">Train a model first: only trained models are packaged.</p>'
    body = ("<section><h2>New packaging job</h2>%s</section><section><h2>Jobs</h2>%s</section>"
            % (start, table(["Job", "Model", "Status", "Message", "Created"], rows, "No packaging jobs yet.")))
    return html(page("%s · edge packaging" % project, body, request.session,
                     [(project, url("/p/" + project)), ("packaging", url("/p/%s/packaging" % project))],
                     ["console.js"]))


def _greengrass(request: Request) -> dict[str, Any]:
    config: dict[str, Any] = {"ComponentName": request.field("component_name"),
                              "S3OutputLocation": {"Bucket": request.field("bucket"),
                                                   "Prefix": request.field("prefix")}}
    device, platform = request.field("target_device"), request.field("target_platform")
    if device:
        config["TargetDevice"] = device
    if platform:
        parts = platform.split("/")
        config["TargetPlatform"] = dict(zip(("Os", "Arch", "Accelerator"), parts))
    for field, key in (("compiler_options", "CompilerOptions"), ("component_version", "ComponentVersion"),
                       ("component_description", "ComponentDescription")):
        if request.field(field):
            config[key] = request.field(field)
    tags = []
    for text in request.field("tags").splitlines():
        if text.strip():
            key, sep, value = text.partition("=")
            if not sep or not key.strip():
                raise ConsoleError("a tag is key=value, got %r" % text.strip())
            tags.append({"Key": key.strip(), "Value": value.strip()})
    if tags:
        config["Tags"] = tags
    return config


def start_job(console: Any, request: Request, project: str) -> HttpResponse:
    if not request.field("model"):
        raise ConsoleError("choose the model version to package")
    name = console.ops.call("StartModelPackagingJob", ProjectName=project, ModelVersion=request.field("model"),
                            JobName=request.field("job_name") or None,
                            Configuration={"Greengrass": _greengrass(request)})["JobName"]
    request.session.say("ok", "Packaging job %s started." % name)
    return redirect(url("/p/%s/packaging/%s" % (project, name)))


def _recipe(console: Any, uri: str) -> str:
    if not uri:
        return '<p class="empty">The recipe is written when the job succeeds.</p>'
    try:
        ref = uri if uri.startswith("s3://") else console.context.objects.publish(uri)
        text = read_object(console, ref).decode("utf-8", "replace")
    except (ConsoleError, EdgeRuntimeError):
        return '<p class="hint">The recipe is at %s.</p>' % e(uri)
    return '<p class="hint">%s</p><pre id="recipe">%s</pre>' % (e(ref), e(text))


def job_page(console: Any, request: Request, project: str, job: str) -> HttpResponse:
    described = console.ops.call("DescribeModelPackagingJob", ProjectName=project, JobName=job)
    info = described["ModelPackagingDescription"]
    output = (info.get("ModelPackagingOutputDetails") or {}).get("Greengrass") or {}
    config = (info.get("ModelPackagingConfiguration") or {}).get("Greengrass") or {}
    running = info.get("Status") in ("CREATED", "RUNNING")
    body = ('<section%s><h2>Status</h2><p><span class="status" id="job-status">%s</span> %s</p>'
            '<p class="hint">model %s · created %s</p></section><section><h2>Configuration</h2><pre>%s</pre></section>'
            '<section><h2>Component</h2><p>%s %s %s</p><h3>Recipe</h3>%s</section>'
            % (' data-refresh="2"' if running else "", e(info.get("Status")), e(info.get("StatusMessage")),
               e(info.get("ModelVersion")), e(when(info.get("CreationTimestamp"))), e(json.dumps(config, indent=2)),
               e(output.get("ComponentName")), e(output.get("ComponentVersion")), e(output.get("ComponentVersionArn")),
               _recipe(console, output.get("RecipeUri", ""))))
    return html(page("%s · packaging job %s" % (project, job), body, request.session,
                     [(project, url("/p/" + project)), ("packaging", url("/p/%s/packaging" % project)),
                      (job, url("/p/%s/packaging/%s" % (project, job)))], ["console.js"]))


ROUTES = [
    ("GET", JOB, jobs_page),
    ("POST", JOB, start_job),
    ("GET", JOB + "/(?P<job>[a-zA-Z0-9_-]+)", job_page),
]
