"""The agent and a client in one real Python 3.8 process (.venv38: grpcio 1.70, protobuf 5.29,
onnxruntime 1.19, numpy 1.24), running tests/agent/py38_inprocess_flow.py."""

from __future__ import annotations

import os
import subprocess
import uuid

import pytest

from tests.agent.conftest import make_models_root, short_socket_path

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV38 = os.path.join(ROOT, ".venv38", "bin", "python")


@pytest.mark.py38
@pytest.mark.skipif(not os.path.exists(VENV38), reason="no .venv38: scripts/setup.sh makes it where Python 3.8 exists")
def test_inprocess_flow_under_python_3_8(tmp_path, tiny_packages):
    root = make_models_root(str(tmp_path / "models"), tiny_packages)
    shm = "/edge-agent-py38-%s" % uuid.uuid4().hex[:10]
    script = os.path.join(ROOT, "tests", "agent", "py38_inprocess_flow.py")
    env = dict(os.environ, PYTHONPATH=ROOT)
    result = subprocess.run([VENV38, script, root, short_socket_path(tmp_path), shm],
                            capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    assert "py38 flow ok: grpcio 1.70" in result.stdout and "protobuf 5.29" in result.stdout
    assert not os.path.exists("/dev/shm/" + shm[1:])
