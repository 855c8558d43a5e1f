"""Fixtures for packaging tests: a tiny model package, a job store, S3 (moto_server) and a fake Greengrass.

The moto server fixture (`moto_endpoint`, `s3_bucket`) is shared from tests/conftest.py.
"""

from __future__ import annotations

import os
from typing import Any, Iterator, Tuple

import numpy as np
import pytest

from edge_runtime.modelpkg.manifest import InputSpec, ModelManifest, write_manifest
from edge_runtime.packaging.destinations import S3Settings
from edge_runtime.packaging.jobs import PackagingJobStore
from edge_runtime.packaging.statedb import StateDatabase


def write_tiny_model(folder: str, name: str = "tiny", version: int = 1, size: int = 64) -> str:
    """A real model package: score = sigmoid(mean of the normalised image), built with onnx.helper."""
    import onnx
    from onnx import TensorProto, helper

    os.makedirs(folder, exist_ok=True)
    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["image"], ["mean"], axes=[1, 2, 3], keepdims=0),
         helper.make_node("Sigmoid", ["mean"], ["score"])],
        "tiny",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, size, size])],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, ["N"])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(folder, "model.onnx"))
    np.savez(os.path.join(folder, "calibration.npz"), images=np.zeros((2, size, size, 3), np.uint8))
    write_manifest(folder, ModelManifest(name=name, task="classification", input=InputSpec(width=size, height=size),
                                         threshold=0.6, version=version, backbone="tiny-test-net"))
    return folder


@pytest.fixture()
def tiny_model(tmp_path) -> str:
    return write_tiny_model(str(tmp_path / "tiny-model"))


@pytest.fixture()
def store(tmp_path) -> PackagingJobStore:
    return PackagingJobStore(StateDatabase(str(tmp_path / "state" / "state.db")))


@pytest.fixture()
def s3_settings(moto_endpoint: str) -> S3Settings:
    """Small multipart threshold (5 MiB, S3's minimum part) so a few-MB artifact goes multipart."""
    return S3Settings(endpoint_url=moto_endpoint, region_name="us-east-1", multipart_threshold=5 * 1024 * 1024,
                      multipart_chunksize=5 * 1024 * 1024, max_attempts=2, connect_timeout_s=2, read_timeout_s=10)


@pytest.fixture()
def fake_greengrass(s3_bucket: Tuple[Any, str]) -> Iterator[Tuple[Any, Any]]:
    """(FakeGreengrass, boto3 greengrassv2 client pointed at it)."""
    import boto3

    from tests.packaging.fake_greengrass import FakeGreengrass

    fake = FakeGreengrass(s3_bucket[0])
    url = fake.start()
    client = boto3.client("greengrassv2", endpoint_url=url, region_name="us-east-1")
    try:
        yield fake, client
    finally:
        fake.stop()

