"""StartModelPackagingJob, DescribeModelPackagingJob, ListModelPackagingJobs: the packaging subsystem's jobs.

Jobs live in the packaging job store inside the same SQLite file as the rest of the server's state,
so `edge-runtime package` and the API see one list. The server creates the job (refusals are
synchronous: bad options, a component version that exists), then runs it on a background thread
(CREATED -> RUNNING -> SUCCEEDED | FAILED). In embedded mode S3OutputLocation names a folder of the
local object store; with S3 configured it is the user's bucket.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from edge_runtime.compiler.targets import validate_target
from edge_runtime.errors import EdgeRuntimeError, InvalidArgument, NotFound
from edge_runtime.packaging.destinations import Destination, S3Settings, open_destination
from edge_runtime.packaging.jobs import PackagingJobStore
from edge_runtime.packaging.model_job import JobServices, create_job, run_job
from edge_runtime.packaging.reclaim import reclaim_interrupted
from edge_runtime.packaging.request import OutputLocation, PackagingRequest
from edge_runtime.server.context import ServerContext
from edge_runtime.server.errors import MODEL, PACKAGING_JOB, conflict, from_domain, not_found, validation
from edge_runtime.server.objects import LocalObjects, split_uri
from edge_runtime.server.operations.common import model_row, project_row

log = logging.getLogger(__name__)
PACKAGEABLE = ("TRAINED", "STARTING_HOSTING", "HOSTED", "HOSTING_FAILED", "STOPPING_HOSTING")


def _services(ctx: ServerContext) -> JobServices:
    return ctx.services["packaging"]  # type: ignore[no-any-return]


def _output(ctx: ServerContext, location: dict[str, str]) -> OutputLocation:
    bucket, prefix = location["Bucket"], location.get("Prefix", "")
    if isinstance(ctx.objects, LocalObjects):
        return OutputLocation(local_dir=ctx.objects.folder(bucket, prefix))
    return OutputLocation(bucket=bucket, prefix=prefix.strip("/"))


def _request(ctx: ServerContext, package_dir: str, params: dict[str, Any]) -> PackagingRequest:
    greengrass = params["Configuration"]["Greengrass"]
    target = validate_target(greengrass.get("TargetDevice"), greengrass.get("TargetPlatform"),
                             greengrass.get("CompilerOptions"))
    return PackagingRequest(
        model_dir=package_dir, component_name=greengrass["ComponentName"],
        output=_output(ctx, greengrass["S3OutputLocation"]), target=target,
        component_version=greengrass.get("ComponentVersion"),
        component_description=greengrass.get("ComponentDescription"),
        tags=tuple((t["Key"], t["Value"]) for t in greengrass.get("Tags") or ()),
        job_name=params.get("JobName"), description=params.get("Description"), client_token=params.get("ClientToken"))


def start_model_packaging_job(ctx: ServerContext, params: dict[str, Any]) -> dict[str, Any]:
    project = params["ProjectName"]
    row = model_row(ctx, project, params["ModelVersion"])
    if row["status"] not in PACKAGEABLE or not row["package_dir"]:
        raise conflict(MODEL, row["arn"], "model %s is %s; only a trained model can be packaged"
                       % (row["arn"], row["status"]))
    try:
        request = _request(ctx, row["package_dir"], params)
        destination = open_destination(request.output, _services(ctx).s3)
        job, created = create_job(request, _services(ctx), destination)
    except EdgeRuntimeError as exc:  # refusals are about the job (named, else the project), by the one table
        raise from_domain(exc, PACKAGING_JOB, params.get("JobName") or project) from exc
    if created:
        with ctx.store.transaction() as tx:
            tx.execute("INSERT OR REPLACE INTO lv_packaging_runs (project, job_name, started) VALUES (?, ?, ?)",
                       (project, job.job_name, time.time()))
        ctx.background.spawn("package-%s" % job.job_name, lambda: _run(ctx, job, request, destination))
    return {"JobName": job.job_name}


def _run(ctx: ServerContext, job: Any, request: PackagingRequest, destination: Destination) -> None:
    run_job(job, request, _services(ctx), destination)
    with ctx.store.transaction() as tx:
        tx.execute("DELETE FROM lv_packaging_runs WHERE project = ? AND job_name = ?", (job.project_name, job.job_name))


def _description(ctx: ServerContext, job: Any) -> dict[str, Any]:
    """The packaging store's Lookout-shaped description, with the local folder shown as the S3 location."""
    description = job.description_dict()
    greengrass = description["ModelPackagingConfiguration"]["Greengrass"]
    local = greengrass.pop("LocalOutputLocation", None)
    if local is not None:
        bucket, key = split_uri(ctx.objects.publish(local["LocalPath"] + "/"))
        greengrass["S3OutputLocation"] = {"Bucket": bucket, "Prefix": key.rstrip("/")}
    return description


def describe_model_packaging_job(ctx: ServerContext, params: dict[str, Any]) -> dict[str, Any]:
    project, name = params["ProjectName"], params["JobName"]
    project_row(ctx, project)
    try:
        job = _services(ctx).store.get(name, project)
    except NotFound:
        raise not_found(PACKAGING_JOB, name, "project %s has no model packaging job %s" % (project, name)) from None
    return {"ModelPackagingDescription": _description(ctx, job)}


def list_model_packaging_jobs(ctx: ServerContext, params: dict[str, Any]) -> dict[str, Any]:
    project = params["ProjectName"]
    project_row(ctx, project)
    try:
        jobs, token = _services(ctx).store.list(project, params.get("MaxResults") or 100, params.get("NextToken"))
    except InvalidArgument as exc:
        raise validation(str(exc)) from None
    return {"ModelPackagingJobs": [j.metadata() for j in jobs], "NextToken": token}


def recover(ctx: ServerContext) -> None:
    """Open the job store; jobs this server was running when it stopped are marked FAILED."""
    s3 = S3Settings(endpoint_url=ctx.config.storage.s3_endpoint_url, region_name=ctx.config.arns.region)
    store = PackagingJobStore(ctx.store.database)
    ctx.services["packaging"] = JobServices(store=store, s3=s3, progress=log.info)
    reclaim_interrupted(store, s3)  # leftovers of jobs whose process died, this server's included
    for run in ctx.store.query("SELECT project, job_name FROM lv_packaging_runs"):
        try:
            job = store.get(run["job_name"], run["project"])
        except NotFound:
            job = None
        if job is not None and job.status in ("CREATED", "RUNNING"):
            store.update(job.id, "FAILED", "the job was interrupted by a server restart; start a new job")
    with ctx.store.transaction() as tx:
        tx.execute("DELETE FROM lv_packaging_runs")


OPERATIONS = {
    "StartModelPackagingJob": start_model_packaging_job,
    "DescribeModelPackagingJob": describe_model_packaging_job,
    "ListModelPackagingJobs": list_model_packaging_jobs,
}
