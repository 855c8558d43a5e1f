"""EdgeAgentClient against the real daemon on a real Unix socket (tiny real ONNX models, real shm)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_runtime.client import ClientError, EdgeAgentClient, ModelFailed
from edge_runtime.errors import InvalidArgument, NotFound
from edge_runtime.shm import shm_path
from tests.agent.conftest import frame, half_red_frame

SCRATCH = (0x23, 0xA4, 0x36)


def test_models_lifecycle_with_the_documented_polling(start_agent):
    running = start_agent()
    with EdgeAgentClient(running.address) as client:
        assert {m.name: m.status for m in client.list_models()} == {"classify": "STOPPED", "segment": "STOPPED"}
        assert client.start_model("classify") == "STARTING"
        info = client.wait_until_running("classify", timeout=60)  # sleeps 1 s while STARTING
        assert (info.name, info.status) == ("classify", "RUNNING")
        assert client.describe_model("classify").status == "RUNNING"
        assert client.stop_model("classify") == "STOPPED"
        with pytest.raises(ClientError) as err:
            client.wait_until_running("classify", timeout=5)
        assert err.value.code == "FAILED_PRECONDITION" and "STOPPED" in str(err.value)


def test_wait_gives_up_on_failed_with_the_status_message(start_agent, tmp_path, tiny_packages):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_packages["classify"], str(broken), dirs_exist_ok=True)
    (broken / "model.onnx").write_bytes(b"this is not an ONNX model")
    running = start_agent(packages={"broken": str(broken)})
    with EdgeAgentClient(running.address) as client:
        client.start_model("broken")
        with pytest.raises(ModelFailed) as err:
            client.wait_until_running("broken", timeout=60, poll_interval=0.1)
    assert err.value.code == "FAILED" and "broken" in str(err.value) and len(err.value.details) > 20


def test_file_path_segmentation_result_and_mask(agent, red_png):
    with EdgeAgentClient(agent.address) as client:
        result = client.detect("segment", red_png)
    assert result.is_anomalous and 0.5 < result.anomaly_score < 0.7  # half red: sigmoid(4 * mean red)
    assert result.confidence == pytest.approx(min(result.anomaly_score, 1.0), abs=1e-6)
    assert result.anomaly_threshold == pytest.approx(0.5)
    assert [a.name for a in result.anomalies] == ["background", "scratch"]
    assert [a.hex_color for a in result.anomalies] == ["#FFFFFF", "#23A436"]
    assert result.anomalies[1].total_percentage_area == pytest.approx(0.5, abs=0.05)
    assert result.mask.shape == (96, 128, 3)
    assert (result.mask[:, :40] == 255).all() and (result.mask[:, -40:] == SCRATCH).all()


def test_bgr_array_gives_the_file_result_and_a_mislabelled_one_does_not(agent, red_png):
    bgr = cv2.imread(red_png)  # what OpenCV line software holds
    with EdgeAgentClient(agent.address) as client:
        from_file = client.detect("classify", red_png)
        from_bgr = client.detect("classify", bgr, color_order="BGR")
        mislabelled = client.detect("classify", bgr, color_order="RGB")  # red arrives as blue
        from_png_bytes = client.detect("classify", Path(red_png).read_bytes())
        with pytest.raises(InvalidArgument, match="color_order"):
            client.detect("classify", bgr)
    assert from_bgr.anomaly_score == pytest.approx(from_file.anomaly_score, abs=1e-6)
    assert from_png_bytes.anomaly_score == pytest.approx(from_file.anomaly_score, abs=1e-6)
    assert from_file.is_anomalous and not mislabelled.is_anomalous


def test_shared_memory_reuses_one_segment_and_grows_it(agent):
    small, big = half_red_frame(128, 96), half_red_frame(1600, 1200)
    with EdgeAgentClient(agent.address) as client:
        inline = client.detect("segment", small, color_order="RGB")
        first = client.detect("segment", small, color_order="RGB", shared_memory=True)
        name, size = client._segment.name, client._segment.size
        again = client.detect("segment", small, color_order="RGB", shared_memory=True)
        assert (client._segment.name, client._segment.size) == (name, size)
        grown = client.detect("segment", big, color_order="RGB", shared_memory=True)
        assert client._segment.size >= big.nbytes > size
        assert os.path.exists(shm_path(name))
    assert not os.path.exists(shm_path(name)), "close() must unlink the client's segment"
    for result in (first, again):
        assert result.anomaly_score == pytest.approx(inline.anomaly_score, abs=1e-6)
        np.testing.assert_array_equal(result.mask, inline.mask)
    assert grown.mask.shape == (1200, 1600, 3) and grown.is_anomalous


def test_mask_is_written_into_the_clients_segment(agent):
    image = half_red_frame(128, 96)
    with EdgeAgentClient(agent.address, shared_memory=True) as client:
        inline = client.detect("segment", image, color_order="RGB", shared_memory=False)
        result = client.detect("segment", image, color_order="RGB", mask_to_shared_memory=True)
        mask_offset, _ = client._segment.layout(image.nbytes, True)
        with open(shm_path(client._segment.name), "rb") as fh:  # what the agent wrote, read independently
            fh.seek(mask_offset)
            raw = np.frombuffer(fh.read(image.nbytes), dtype=np.uint8).reshape(96, 128, 3)
    np.testing.assert_array_equal(raw, inline.mask)
    np.testing.assert_array_equal(result.mask, inline.mask)


def test_classification_model_returns_no_mask_even_when_asked(agent):
    with EdgeAgentClient(agent.address) as client:
        result = client.detect("classify", frame(64, 64), color_order="RGB", mask_to_shared_memory=True)
    assert result.mask is None and result.anomalies == () and not result.is_anomalous


def test_errors_carry_the_status_code(agent, start_agent, tmp_path):
    with EdgeAgentClient(agent.address) as client:
        with pytest.raises(ClientError) as unknown:
            client.detect("no-such-model", frame(), color_order="RGB")
        client.stop_model("classify")
        with pytest.raises(ClientError) as stopped:
            client.detect("classify", frame(), color_order="RGB")
        with pytest.raises(InvalidArgument, match="64..4096"):
            client.detect("segment", frame(32, 32), color_order="RGB")
        with pytest.raises(InvalidArgument, match="PNG or JPEG"):
            client.detect("segment", b"\x00\x01not an image")
        with pytest.raises(NotFound, match="does not exist"):
            client.detect("segment", str(tmp_path / "missing.png"))
    assert unknown.value.code == "NOT_FOUND" and "no-such-model" in unknown.value.details
    assert stopped.value.code == "FAILED_PRECONDITION"
    with EdgeAgentClient(str(tmp_path / "nobody.sock"), timeout=5) as client, pytest.raises(ClientError) as down:
        client.list_models()
    assert down.value.code == "UNAVAILABLE" and "edge-runtime agent" in str(down.value)


def test_metrics_count_the_requests(agent):
    with EdgeAgentClient(agent.address) as client:
        for _ in range(3):
            client.detect("classify", frame(), color_order="RGB")
        data = client.metrics()
        text = client.metrics_text()
    assert data["models"]["classify"]["requests"]["OK"] == 3
    assert data["models"]["classify"]["batch_size"]["sum"] == 3
    assert 'edge_agent_requests_total{model="classify",code="OK"} 3' in text
