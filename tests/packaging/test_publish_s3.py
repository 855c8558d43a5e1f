"""Model packaging jobs against a real S3-protocol server (moto_server on 127.0.0.1) and a fake Greengrass.

Checks: artifacts land under the prefix and hash (downloaded again) to the recipe's digests; large
artifacts go multipart; duplicates, unreachable or missing buckets, failed registrations and failing
compiles end as a refused call or a FAILED job with nothing left published.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket

import numpy as np
import pytest

from edge_runtime.compiler.targets import validate_target
from edge_runtime.errors import AlreadyExists, EdgeRuntimeError
from edge_runtime.packaging.destinations import S3Settings
from edge_runtime.packaging.model_job import JobServices, start_job
from edge_runtime.packaging.recipes import parse_recipe, validate_recipe
from edge_runtime.packaging.register import RegisterSettings
from edge_runtime.packaging.request import OutputLocation, PackagingRequest

X86 = validate_target(None, {"Os": "LINUX", "Arch": "X86_64"}, None)


def request_for(model_dir: str, bucket: str, **kw) -> PackagingRequest:
    values = dict(model_dir=model_dir, component_name="acme.Tiny", target=X86,
                  output=OutputLocation(bucket=bucket, prefix="components/v1"))
    values.update(kw)
    return PackagingRequest(**values)


def keys(client, bucket: str) -> list:
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", []))


def services(store, s3_settings, **kw) -> JobServices:
    return JobServices(store=store, s3=s3_settings, register=RegisterSettings(timeout_s=20, poll_s=0.05), **kw)


def test_job_publishes_artifacts_then_recipe_under_the_prefix(tiny_model, store, s3_bucket, s3_settings):
    client, bucket = s3_bucket
    job = start_job(request_for(tiny_model, bucket, tags=(("team", "vision"),)), services(store, s3_settings))
    assert job.status == "SUCCEEDED", job.status_message
    assert job.component_version == "1.0.0"  # <model version>.0.0
    assert keys(client, bucket) == ["components/v1/acme.Tiny/1.0.0/model.zip",
                                    "components/v1/recipes/acme.Tiny-1.0.0.json"]
    recipe = parse_recipe(client.get_object(Bucket=bucket, Key=keys(client, bucket)[1])["Body"].read())
    validate_recipe(recipe)
    artifact = recipe["Manifests"][0]["Artifacts"][0]
    assert artifact["URI"] == "s3://%s/components/v1/acme.Tiny/1.0.0/model.zip" % bucket
    data = client.get_object(Bucket=bucket, Key=keys(client, bucket)[0])["Body"].read()
    assert artifact["Digest"] == base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert recipe["Manifests"][0]["Platform"] == {"os": "linux", "architecture": "amd64"}
    described = store.get(job.job_name).description_dict()
    assert described["ModelPackagingConfiguration"]["Greengrass"]["Tags"] == [{"Key": "team", "Value": "vision"}]
    assert described["ModelPackagingOutputDetails"]["Greengrass"]["RecipeUri"].endswith("acme.Tiny-1.0.0.json")


def test_large_artifacts_go_multipart(tmp_path, store, s3_bucket, s3_settings):
    from tests.packaging.conftest import write_tiny_model

    folder = write_tiny_model(str(tmp_path / "big"))
    noise = np.random.default_rng(0).integers(0, 255, (100, 64, 64, 3), dtype=np.uint8)
    np.savez(os.path.join(folder, "calibration.npz"), images=np.concatenate([noise] * 6))  # ~7 MB, incompressible
    client, bucket = s3_bucket
    job = start_job(request_for(folder, bucket), services(store, s3_settings))
    assert job.status == "SUCCEEDED", job.status_message
    head = client.head_object(Bucket=bucket, Key="components/v1/acme.Tiny/1.0.0/model.zip")
    assert head["ContentLength"] > 5 * 1024 * 1024 and head["ETag"].strip('"').endswith("-2")  # two parts


def test_existing_versions_are_refused_by_store_and_by_destination(tiny_model, store, s3_bucket, s3_settings,
                                                                   tmp_path):
    from edge_runtime.packaging.jobs import PackagingJobStore
    from edge_runtime.packaging.statedb import StateDatabase

    client, bucket = s3_bucket
    assert start_job(request_for(tiny_model, bucket), services(store, s3_settings)).status == "SUCCEEDED"
    with pytest.raises(AlreadyExists, match="already published at s3://"):
        start_job(request_for(tiny_model, bucket), services(store, s3_settings))
    other_store = PackagingJobStore(StateDatabase(str(tmp_path / "other.db")))  # another machine's jobs
    with pytest.raises(AlreadyExists, match="acme.Tiny version 1.0.0 is already published"):
        start_job(request_for(tiny_model, bucket), services(other_store, s3_settings))
    assert len(keys(client, bucket)) == 2


def test_unreachable_and_missing_buckets_are_refused_clearly(tiny_model, store, s3_bucket, s3_settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = "http://127.0.0.1:%d" % sock.getsockname()[1]
    dead = S3Settings(endpoint_url=closed, region_name="us-east-1", max_attempts=2, connect_timeout_s=1)
    with pytest.raises(EdgeRuntimeError, match="s3://some-bucket failed: Could not connect"):
        start_job(request_for(tiny_model, "some-bucket"), services(store, dead))
    with pytest.raises(EdgeRuntimeError, match="NoSuchBucket"):
        start_job(request_for(tiny_model, "no-such-bucket-here"), services(store, s3_settings))
    assert store.list()[0] == []  # refused before a job existed


def test_register_waits_for_deployable_and_tags_the_component(tiny_model, store, s3_bucket, s3_settings,
                                                              fake_greengrass):
    fake, gg_client = fake_greengrass
    _, bucket = s3_bucket
    req = request_for(tiny_model, bucket, register=True, tags=(("team", "vision"),))
    job = start_job(req, services(store, s3_settings, greengrass_client=lambda: gg_client))
    assert job.status == "SUCCEEDED", job.status_message
    assert job.component_arn == fake.arn("acme.Tiny", "1.0.0")
    assert fake.calls[0] == ("create", job.component_arn, {"team": "vision"})
    assert fake.components[job.component_arn]["polls"] >= 2  # it waited through INITIATED


def test_failed_registration_leaves_nothing_published(tiny_model, store, s3_bucket, s3_settings, fake_greengrass):
    fake, gg_client = fake_greengrass
    client, bucket = s3_bucket
    fake.components[fake.arn("acme.Tiny", "1.0.0")] = {"recipe": {}, "tags": {}, "polls": 0, "final": {}}
    job = start_job(request_for(tiny_model, bucket, register=True),
                    services(store, s3_settings, greengrass_client=lambda: gg_client))
    assert job.status == "FAILED"
    assert "AlreadyExists: Greengrass already has this component version" in job.status_message
    assert "nothing was left published" in job.status_message
    assert keys(client, bucket) == []
    # the version is free again in the store: a FAILED job published nothing
    assert store.list()[0][0].status == "FAILED"


def test_failing_compile_ends_as_failed_job(tmp_path, store, s3_bucket, s3_settings):
    from tests.packaging.conftest import write_tiny_model

    folder = write_tiny_model(str(tmp_path / "broken"))
    with open(os.path.join(folder, "model.onnx"), "wb") as fh:
        fh.write(b"this is not an onnx model")
    client, bucket = s3_bucket
    job = start_job(request_for(folder, bucket), services(store, s3_settings))
    assert job.status == "FAILED" and "Error" in job.status_message, job.status_message
    assert keys(client, bucket) == []


def test_bucket_lost_after_the_job_was_created_ends_failed(tiny_model, store, s3_bucket, s3_settings):
    """S3 answering when the job is accepted and not when it uploads: FAILED with the reason, no recipe."""
    from edge_runtime.packaging.model_job import create_job, run_job

    client, bucket = s3_bucket
    req = request_for(tiny_model, bucket)
    job, created = create_job(req, services(store, s3_settings))
    assert created and job.status == "CREATED"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = "http://127.0.0.1:%d" % sock.getsockname()[1]
    dead = S3Settings(endpoint_url=closed, region_name="us-east-1", max_attempts=2, connect_timeout_s=1)
    job = run_job(job, req, services(store, dead))
    assert job.status == "FAILED" and "Could not connect to the endpoint URL" in job.status_message
    assert store.get(job.job_name).status == "FAILED"
    assert keys(client, bucket) == []
