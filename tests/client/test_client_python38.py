"""The client and the agent under the device's real Python 3.8 (grpcio 1.70, protobuf 5.29, numpy 1.24).

The tiny packages are built here (onnx is not a device dependency); a Python 3.8 subprocess starts the real
agent on a Unix socket and drives it with EdgeAgentClient: inline, shared memory, BGR arrays, the
mask written into the client's segment.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.agent.conftest import make_models_root, short_socket_path

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV38 = os.path.join(ROOT, ".venv38", "bin", "python")

SCRIPT = r"""
import sys
import numpy as np
from edge_runtime.agent.config import config_from_dict
from edge_runtime.agent.server import AgentServices, start_server
from edge_runtime.client import ClientError, EdgeAgentClient

assert sys.version_info[:2] == (3, 8), sys.version
socket_path, models_root = sys.argv[1], sys.argv[2]
config = config_from_dict({"server": {"socket": "unix://" + socket_path}, "models": {"models_root": models_root}})
services = AgentServices(config)
server, address = start_server(config, services)
try:
    with EdgeAgentClient(address) as client:
        client.start_model("segment")
        client.wait_until_running("segment", timeout=60, poll_interval=0.1)
        rgb = np.zeros((96, 128, 3), dtype=np.uint8)
        rgb[:, 64:, 0] = 255
        inline = client.detect("segment", rgb, color_order="RGB")
        bgr = client.detect("segment", np.ascontiguousarray(rgb[:, :, ::-1]), color_order="BGR")
        shm = client.detect("segment", rgb, color_order="RGB", shared_memory=True, mask_to_shared_memory=True)
        assert inline.is_anomalous and [a.name for a in inline.anomalies] == ["background", "scratch"]
        assert abs(bgr.anomaly_score - inline.anomaly_score) < 1e-6
        assert abs(shm.anomaly_score - inline.anomaly_score) < 1e-6
        assert (shm.mask == inline.mask).all() and inline.mask.shape == (96, 128, 3)
        try:
            client.detect("ghost", rgb, color_order="RGB")
        except ClientError as exc:
            assert exc.code == "NOT_FOUND", exc.code
        else:
            raise AssertionError("unknown model accepted")
        assert client.metrics()["models"]["segment"]["requests"]["OK"] == 3
    print("py38 client ok")
finally:
    server.stop(0).wait()
    services.close(timeout=10)
"""


@pytest.mark.py38
@pytest.mark.skipif(not os.path.exists(VENV38), reason="no .venv38: scripts/setup.sh makes it where Python 3.8 exists")
def test_client_against_the_agent_under_python_3_8(tiny_packages, tmp_path):
    models_root = make_models_root(str(tmp_path / "models"), {"segment": tiny_packages["segment"]})
    result = subprocess.run([VENV38, "-c", SCRIPT, short_socket_path(tmp_path), models_root],
                            capture_output=True, text=True, cwd=ROOT, timeout=240)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    assert "py38 client ok" in result.stdout
