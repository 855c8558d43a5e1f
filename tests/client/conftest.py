"""Fixtures for the client and bench tests: the agent helper's tiny packages and real agent, reused.

The fixtures live in tests/agent/conftest.py; importing them here registers them for this folder
(they could move to tests/conftest.py for everyone); `lookout_client` is replaced (see below).
`agent` is a real daemon on a Unix socket under tmp_path with both tiny models (classify, segment) RUNNING.
"""

from __future__ import annotations

import cv2
import pytest

from tests.agent.conftest import half_red_frame, start_agent, tiny_packages  # noqa: F401

__all__ = ["half_red_frame", "start_agent", "tiny_packages"]


@pytest.fixture(scope="session")
def lookout_client():
    """The project's generated modules. The agent tests' protoc-generated pair imports `edge_agent_pb2`
    by its top-level name, which works once per session only; these tests do not need the user's copy."""
    from edge_runtime.agent.proto import edge_agent_pb2, edge_agent_pb2_grpc

    return edge_agent_pb2, edge_agent_pb2_grpc


@pytest.fixture
def agent(start_agent, lookout_client):  # noqa: F811
    pb2 = lookout_client[0]
    running = start_agent()
    running.start_and_wait(pb2, "classify")
    running.start_and_wait(pb2, "segment")
    return running


@pytest.fixture
def red_png(tmp_path):
    """A 128x96 PNG, left half black, right half red (RGB), written the way any camera tool would."""
    path = str(tmp_path / "half-red.png")
    assert cv2.imwrite(path, cv2.cvtColor(half_red_frame(), cv2.COLOR_RGB2BGR))
    return path
