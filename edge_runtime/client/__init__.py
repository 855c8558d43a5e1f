"""Python client for the edge agent (the Lookout for Vision Edge Agent API) for line software.

`EdgeAgentClient` takes image files, PNG/JPEG bytes or arrays with an explicit colour order, and can
pass frames through shared memory; errors arrive as `ClientError` (gRPC status name + message).
Python 3.8 compatible; needs the `agent` extra (grpcio, protobuf).
"""

from __future__ import annotations

from edge_runtime.client.client import DEFAULT_TARGET, EdgeAgentClient
from edge_runtime.client.errors import ClientError, ModelFailed
from edge_runtime.client.result import Anomaly, DetectResult, ModelInfo

__all__ = ["DEFAULT_TARGET", "Anomaly", "ClientError", "DetectResult", "EdgeAgentClient", "ModelFailed", "ModelInfo"]
