"""StartModelPackagingJob: create the job (refusing what breaks the rules), then run it to the end.

`create_job` refuses a bad request outright (bad names, a component version the store or the
destination already holds, a reused client token with another request, a compiled package asked for
another target; the target itself was validated where the request was made). `run_job` moves the job
CREATED -> RUNNING -> SUCCEEDED | FAILED: compile (a compiled package is packaged as it is), ZIP,
publish (artifacts, then the recipe, then optional registration); a failure records its reason and
leaves nothing published. A server can call `run_job` on a worker thread; the CLI calls `start_job`,
which opens the destination once for both steps.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Tuple

from edge_runtime.compiler.targets import CompileTarget
from edge_runtime.digests import sha256_hex
from edge_runtime.errors import AlreadyExists, EdgeRuntimeError, InvalidArgument
from edge_runtime.modelpkg import MANIFEST_FILE, read_manifest
from edge_runtime.modelpkg.build import is_compiled, read_build
from edge_runtime.packaging import compile_step, rules
from edge_runtime.packaging.artifacts import zip_folder
from edge_runtime.packaging.destinations import Destination, S3Settings, open_destination
from edge_runtime.packaging.jobs import NewJob, PackagingJob, PackagingJobStore
from edge_runtime.packaging.model_component import AGENT_REQUIREMENT, MODEL_ZIP, ModelComponentSpec, model_recipe
from edge_runtime.packaging.publish import publish_component
from edge_runtime.packaging.reclaim import JobLock, reclaim_interrupted, staging_prefix
from edge_runtime.packaging.register import RegisterSettings, register_component
from edge_runtime.packaging.request import PackagingRequest

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobServices:
    """What a job needs from outside: the store, S3 and Greengrass settings, the compiler seam."""

    store: PackagingJobStore
    s3: S3Settings = field(default_factory=S3Settings)
    register: RegisterSettings = field(default_factory=RegisterSettings)
    agent_requirement: str = AGENT_REQUIREMENT
    compile: Optional[Callable[..., str]] = None  # default: compile_step.compile_package
    greengrass_client: Optional[Callable[[], Any]] = None  # default: boto3 greengrassv2 with s3's retries
    progress: Callable[[str], None] = LOG.info


def _model_digest(model_dir: str) -> str:
    return sha256_hex(os.path.join(model_dir, MANIFEST_FILE))


def generated_job_name(project: str, version: int) -> str:
    base = "".join(c if c.isalnum() else "-" for c in project).strip("-")[:30] or "model"
    return "%s-%d-%s-%s" % (base, version, time.strftime("%Y%m%d%H%M%S", time.gmtime()), uuid.uuid4().hex[:4])


def create_job(request: PackagingRequest, services: JobServices,
               destination: Optional[Destination] = None) -> Tuple[PackagingJob, bool]:
    """Validate everything checkable before work starts; (job, created) - created False on a token replay."""
    if request.register and not request.output.is_s3:
        raise InvalidArgument("--register needs --s3-output: Greengrass fetches artifacts from S3 only")
    reclaim_interrupted(services.store, services.s3)  # a killed job must not hold its component version
    manifest = read_manifest(request.model_dir)
    version = request.component_version or "%d.0.0" % manifest.version
    rules.check_component_version(version)
    _check_compiled_target(request)
    job_name = request.job_name or generated_job_name(manifest.name, manifest.version)
    new = NewJob(project_name=manifest.name, model_version=str(manifest.version), job_name=job_name,
                 component_name=request.component_name, component_version=version,
                 configuration=dict(request.configuration(), ComponentVersion=version),
                 request_fingerprint=request.fingerprint(_model_digest(request.model_dir)),
                 description=request.description, client_token=request.client_token)
    if request.client_token:
        replay = services.store.replay(request.client_token, new.request_fingerprint)
        if replay is not None:
            return replay, False
    destination = destination or open_destination(request.output, services.s3)
    found = destination.existing(request.component_name, version)
    if found:
        raise AlreadyExists("component %s version %s is already published at %s"
                            % (request.component_name, version, found))
    return services.store.create(new)


def _check_compiled_target(request: PackagingRequest) -> None:
    """A compiled package is packaged as it is, so only for the target it was compiled for."""
    if not is_compiled(request.model_dir):
        return
    built_for = CompileTarget.from_dict(read_build(request.model_dir).target)
    if not built_for.builds_same_as(request.target):
        raise InvalidArgument("%s is already compiled for %s, but the job asks for %s; package the plain model "
                              "(training's output) for a new target" % (request.model_dir, built_for.describe(),
                                                                        request.target.describe()))


def _compiled(request: PackagingRequest, services: JobServices, work: str) -> str:
    """The compiled package folder to ZIP: the model itself when it is compiled already."""
    if is_compiled(request.model_dir):
        services.progress("%s is compiled for this target already: packaging it as it is" % request.model_dir)
        return request.model_dir
    compile_fn = services.compile or compile_step.compile_package
    compiled = compile_fn(request.model_dir, request.target, os.path.join(work, "compiled"), services.progress)
    read_manifest(compiled)  # the compiler's output must still be a model package
    return compiled


def run_job(job: PackagingJob, request: PackagingRequest, services: JobServices,
            destination: Optional[Destination] = None) -> PackagingJob:
    """Compile, ZIP and publish; always returns the job in SUCCEEDED or FAILED.

    The job's lock is held until its final status is written, so a process killed meanwhile leaves
    a job the next command reclaims (`reclaim.py`) instead of one RUNNING forever."""
    lock = JobLock.acquire(services.store, job.id)
    if lock is None:
        raise AlreadyExists("packaging job %s is being run by another process" % job.job_name)
    try:
        return _run_locked(job, request, services, destination)
    finally:
        lock.release()


def _run_locked(job: PackagingJob, request: PackagingRequest, services: JobServices,
                destination: Optional[Destination]) -> PackagingJob:
    store, say = services.store, services.progress
    work = tempfile.mkdtemp(prefix=staging_prefix(store, job.id))
    destination = destination or open_destination(request.output, services.s3)
    try:
        job = store.update(job.id, "RUNNING", "compiling for %s" % request.target.describe())
        say("job %s: compiling %s" % (job.job_name, request.model_dir))
        compiled = _compiled(request, services, work)
        store.update(job.id, "RUNNING", "publishing to %s" % destination.describe())
        artifact = zip_folder(compiled, os.path.join(work, MODEL_ZIP))
        spec = ModelComponentSpec(name=job.component_name, version=job.component_version,
                                  architecture=request.greengrass_architecture,
                                  description=request.component_description or "", jetpack=request.jetpack,
                                  agent_requirement=services.agent_requirement)
        result = publish_component(destination, spec.name, spec.version, [artifact],
                                   lambda uris: model_recipe(spec, artifact, uris[MODEL_ZIP]),
                                   request.recipe_format, _registrar(request, services), say)
    except Exception as exc:  # noqa: BLE001 - a job must end FAILED with its reason, whatever broke
        if not isinstance(exc, (EdgeRuntimeError, OSError)):
            LOG.exception("job %s: unexpected error", job.job_name)
        say("job %s FAILED: %s" % (job.job_name, exc))
        return store.update(job.id, "FAILED", "%s: %s" % (type(exc).__name__, exc))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    message = "published %s %s to %s" % (spec.name, spec.version, result.recipe_location)
    return store.update(job.id, "SUCCEEDED", message, component_arn=result.component_arn,
                        recipe_uri=result.recipe_location)


def _registrar(request: PackagingRequest, services: JobServices) -> Optional[Callable[[bytes], str]]:
    if not request.register:
        return None
    factory = services.greengrass_client or (lambda: services.s3.client("greengrassv2"))
    client = factory()
    tags = dict(request.tags)
    return lambda recipe: register_component(client, recipe, tags, services.register)


def start_job(request: PackagingRequest, services: JobServices) -> PackagingJob:
    """Create and run in this thread (the CLI); a token replay returns the earlier job untouched."""
    destination = open_destination(request.output, services.s3)
    job, created = create_job(request, services, destination)
    if not created:
        services.progress("client token %s: returning job %s (%s)" % (request.client_token, job.job_name, job.status))
        return job
    return run_job(job, request, services, destination)

