"""The documented Lookout flow against the real daemon on a real Unix socket, with a client generated
from edge-agent.proto by grpc_tools.protoc (as Lookout users did): ListModels, StartModel, DescribeModel
until RUNNING, DetectAnomalies (inline and shared memory; classification and segmentation; mask into the
caller's segment), StopModel. Real ONNX Runtime, real tiny models (see conftest.py)."""

from __future__ import annotations

import os
import shutil
import uuid

import numpy as np
import pytest

from edge_runtime.shm import SharedMemorySegment
from tests.agent.conftest import frame, half_red_frame


def detect_inline(agent, pb2, name, image, mask_handle=None, legacy_field=False):
    h, w = image.shape[:2]
    request = pb2.DetectAnomaliesRequest(
        model_component=name, bitmap=pb2.Bitmap(width=w, height=h, byte_data=image.tobytes())
    )
    if mask_handle is not None:
        if legacy_field:
            request.anomaly_mask_params.shared_memory_handle_v0.CopyFrom(mask_handle)
        else:
            request.anomaly_mask_params.shared_memory_handle.CopyFrom(mask_handle)
    return agent.stub.DetectAnomalies(request).detect_anomaly_result


@pytest.fixture
def segment_name():
    name = "/edge-agent-test-%s" % uuid.uuid4().hex[:10]
    yield name
    path = "/dev/shm/" + name[1:]
    if os.path.exists(path):
        os.unlink(path)


def test_documented_flow_classification(start_agent, lookout_client):
    pb2, _ = lookout_client
    agent = start_agent()
    listed = agent.stub.ListModels(pb2.ListModelsRequest()).models
    assert [(m.model_component, m.status) for m in listed] == [("classify", pb2.STOPPED), ("segment", pb2.STOPPED)]

    desc = agent.start_and_wait(pb2, "classify")
    assert desc.status_message == "RUNNING on onnxruntime-cpu"

    normal = detect_inline(agent, pb2, "classify", frame(100, 80))
    assert not normal.is_anomalous and normal.anomaly_score < 0.01
    assert normal.confidence == pytest.approx(1 - normal.anomaly_score)
    assert normal.anomaly_threshold == pytest.approx(0.5)
    assert not normal.HasField("anomaly_mask") and len(normal.anomalies) == 0

    red = detect_inline(agent, pb2, "classify", frame(64, 64, (255, 0, 0)))
    assert red.is_anomalous and red.confidence == pytest.approx(red.anomaly_score) and red.anomaly_score > 0.99

    # BGR by mistake (blue instead of red) is not anomalous: the channel order matters
    blue = detect_inline(agent, pb2, "classify", frame(64, 64, (0, 0, 255)))
    assert not blue.is_anomalous

    stopped = agent.stub.StopModel(pb2.StopModelRequest(model_component="classify"))
    assert stopped.status == pb2.STOPPED
    assert agent.stub.DescribeModel(pb2.DescribeModelRequest(model_component="classify")).model_description.status \
        == pb2.STOPPED


def test_segmentation_inline_mask_and_anomalies(start_agent, lookout_client):
    pb2, _ = lookout_client
    agent = start_agent()
    agent.start_and_wait(pb2, "segment")
    image = half_red_frame(128, 96)
    image[:48, :64, 1] = 255  # top-left quarter green: a dent
    result = detect_inline(agent, pb2, "segment", image)
    assert [a.name for a in result.anomalies] == ["background", "scratch", "dent"]
    areas = {a.name: a.pixel_anomaly.total_percentage_area for a in result.anomalies}
    assert areas == pytest.approx({"background": 0.25, "scratch": 0.5, "dent": 0.25}, abs=0.02)
    assert [a.pixel_anomaly.hex_color for a in result.anomalies] == ["#FFFFFF", "#23A436", "#14A3B3"]
    mask = result.anomaly_mask
    assert (mask.width, mask.height) == (128, 96) and len(mask.byte_data) == 128 * 96 * 3
    rgb = np.frombuffer(mask.byte_data, np.uint8).reshape(96, 128, 3)
    assert tuple(rgb[80, 100]) == (0x23, 0xA4, 0x36)  # red area -> scratch colour
    assert tuple(rgb[10, 10]) == (0x14, 0xA3, 0xB3)  # green area -> dent colour
    assert tuple(rgb[80, 10]) == (255, 255, 255)  # black area -> background white

    black = detect_inline(agent, pb2, "segment", frame(64, 64))
    assert [a.name for a in black.anomalies] == ["background"] and not black.is_anomalous


def test_shared_memory_frames_and_mask_into_caller_segment(start_agent, lookout_client, segment_name):
    pb2, _ = lookout_client
    agent = start_agent()
    agent.start_and_wait(pb2, "segment")
    agent.start_and_wait(pb2, "classify")
    w, h = 160, 120
    image = half_red_frame(w, h)
    size = w * h * 3
    seg = SharedMemorySegment.create(segment_name, 64 + 2 * size)
    try:
        seg.write(64, image)  # frame at offset 64, mask goes after it
        handle = pb2.SharedMemoryHandle(name=segment_name, size=size, offset=64)
        mask_handle = pb2.SharedMemoryHandle(name=segment_name, size=size, offset=64 + size)
        request = pb2.DetectAnomaliesRequest(
            model_component="segment", bitmap=pb2.Bitmap(width=w, height=h, shared_memory_handle=handle)
        )
        request.anomaly_mask_params.shared_memory_handle.CopyFrom(mask_handle)
        result = agent.stub.DetectAnomalies(request).detect_anomaly_result
        assert result.is_anomalous
        assert result.anomaly_mask.WhichOneof("data") == "shared_memory_handle"
        assert result.anomaly_mask.shared_memory_handle == mask_handle
        mask = seg.array(64 + size, (h, w, 3))
        assert tuple(mask[h - 1, w - 1]) == (0x23, 0xA4, 0x36) and tuple(mask[0, 0]) == (255, 255, 255)

        # The legacy mask field number 3 is honoured too
        seg.write(64 + size, np.zeros(size, np.uint8))
        legacy = detect_inline(agent, pb2, "segment", image, mask_handle, legacy_field=True)
        assert legacy.anomaly_mask.WhichOneof("data") == "shared_memory_handle"
        assert tuple(mask[h - 1, w - 1]) == (0x23, 0xA4, 0x36)

        # A client reusing one segment for every frame: overwrite in place, then recreate with a new size
        seg.write(64, frame(w, h))
        request.model_component = "classify"
        request.ClearField("anomaly_mask_params")
        assert not agent.stub.DetectAnomalies(request).detect_anomaly_result.is_anomalous
        seg.close()
        seg.unlink()
        seg = SharedMemorySegment.create(segment_name, 64 * 64 * 3)
        seg.write(0, frame(64, 64, (255, 0, 0)))
        small = pb2.DetectAnomaliesRequest(model_component="classify", bitmap=pb2.Bitmap(
            width=64, height=64, shared_memory_handle=pb2.SharedMemoryHandle(name=segment_name, size=64 * 64 * 3)))
        assert agent.stub.DetectAnomalies(small).detect_anomaly_result.is_anomalous
    finally:
        seg.close()
        seg.unlink()


def test_models_appear_and_disappear_without_restart(start_agent, lookout_client, tiny_packages, tmp_path):
    pb2, _ = lookout_client
    agent = start_agent(packages={"classify": tiny_packages["classify"]})

    def names():
        return [m.model_component for m in agent.stub.ListModels(pb2.ListModelsRequest()).models]

    assert names() == ["classify"]
    shutil.copytree(tiny_packages["segment"], os.path.join(agent.config.models.models_root, "line-2.seg_v1"))
    assert names() == ["classify", "line-2.seg_v1"]
    agent.start_and_wait(pb2, "line-2.seg_v1")
    shutil.rmtree(os.path.join(agent.config.models.models_root, "line-2.seg_v1"))
    assert names() == ["classify", "line-2.seg_v1"], "a running model stays listed until stopped"
    assert detect_inline(agent, pb2, "line-2.seg_v1", frame()).anomaly_score < 0.5
    agent.stub.StopModel(pb2.StopModelRequest(model_component="line-2.seg_v1"))
    assert names() == ["classify"]
