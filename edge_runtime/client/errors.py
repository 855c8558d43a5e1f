"""The client's one error type: a gRPC status, or a model that failed to start, in plain words.

`ClientError` is an `EdgeRuntimeError`, so the CLI prints it as one line and exits non-zero. Line
software that used the Lookout samples caught `grpc.RpcError` and read `code()` / `details()`; the
same two facts are here as `code` (the status name, e.g. "NOT_FOUND") and `details`.
Python 3.8 compatible.
"""

from __future__ import annotations

from typing import Any

from edge_runtime.errors import EdgeRuntimeError


class ClientError(EdgeRuntimeError):
    """A call to the agent failed; `code` is the gRPC status name, `details` the agent's message."""

    def __init__(self, code: str, details: str, target: str = "") -> None:
        self.code = code
        self.details = details
        self.target = target
        super().__init__(_describe(code, details, target))


class ModelFailed(ClientError):
    """A model the client waited for ended in FAILED; `details` is the agent's status_message."""


def _describe(code: str, details: str, target: str) -> str:
    if code == "UNAVAILABLE":
        return "cannot reach the edge agent at %s: is `edge-runtime agent` running there? (%s)" % (
            target or "its socket", details or "no details")
    if code == "DEADLINE_EXCEEDED":
        return "the edge agent at %s did not answer in time (%s)" % (target or "its socket", details or "timeout")
    return "%s: %s" % (code, details) if details else code


def from_rpc_error(exc: Any, target: str) -> ClientError:
    """Map a `grpc.RpcError` (which is also a `grpc.Call`) to a ClientError."""
    code = exc.code() if hasattr(exc, "code") else None
    details = exc.details() if hasattr(exc, "details") else str(exc)
    name = getattr(code, "name", None) or "UNKNOWN"
    return ClientError(name, details or "", target)
