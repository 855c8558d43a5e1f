"""The gRPC servicers: the only place where domain errors become status codes (one table).

Status codes, per the Lookout spec's table:
    InvalidArgument -> INVALID_ARGUMENT     bad name, bad image, bad shared memory handle
    NotFound -> NOT_FOUND                   no package folder for the model
    FailedPrecondition -> FAILED_PRECONDITION  the model's state does not allow the call
    ResourceExhausted -> RESOURCE_EXHAUSTED  memory budget, full batch queue (gRPC itself sends it for
                                             a message over server.max_message_mb)
    DeadlineExceeded -> DEADLINE_EXCEEDED    the call's deadline passed while the request was queued
    PermissionDenied -> PERMISSION_DENIED   a shared-memory segment the caller's user may not read/write
    (undecodable request bytes) -> INVALID_ARGUMENT, one warning line (see `lenient_handlers`)
    any other EdgeRuntimeError -> INTERNAL  a known failure inside the agent: the model failed on a
                                             batch (InferenceError), the models root became unreadable
    anything else -> UNKNOWN                 an exception we did not anticipate (a bug): logged with its
                                             traceback; the daemon keeps serving
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Callable, Optional, Tuple, Type

import grpc

from edge_runtime.agent.frames import frame_from_bitmap, mask_target
from edge_runtime.agent.metrics import AgentMetrics
from edge_runtime.agent.proto import agent_admin_pb2 as _admin_pb2
from edge_runtime.agent.proto import agent_admin_pb2_grpc, edge_agent_pb2_grpc
from edge_runtime.agent.proto import edge_agent_pb2 as _agent_pb2
from edge_runtime.agent.registry import ModelRegistry, ModelView, RunningModel
from edge_runtime.agent.results import result_message
from edge_runtime.agent.segments import Caller
from edge_runtime.errors import (
    AlreadyExists,
    DeadlineExceeded,
    EdgeRuntimeError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unavailable,
)

log = logging.getLogger(__name__)
# Generated message classes are created at run time; mypy sees them through Any.
edge_agent_pb2: Any = _agent_pb2
agent_admin_pb2: Any = _admin_pb2

NO_DEADLINE_S = 1e6

STATUS_CODES: Tuple[Tuple[Type[BaseException], grpc.StatusCode], ...] = (
    (InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT),
    (NotFound, grpc.StatusCode.NOT_FOUND),
    (FailedPrecondition, grpc.StatusCode.FAILED_PRECONDITION),
    (ResourceExhausted, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (DeadlineExceeded, grpc.StatusCode.DEADLINE_EXCEEDED),
    (PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
    (AlreadyExists, grpc.StatusCode.ALREADY_EXISTS),
    (Unavailable, grpc.StatusCode.UNAVAILABLE),
    (EdgeRuntimeError, grpc.StatusCode.INTERNAL),
)


def status_code_for(exc: BaseException) -> grpc.StatusCode:
    for cls, code in STATUS_CODES:
        if isinstance(exc, cls):
            return code
    return grpc.StatusCode.UNKNOWN


def _status_enum(status: str) -> int:
    return int(edge_agent_pb2.ModelStatus.Value(status))


class EdgeAgentServicer(edge_agent_pb2_grpc.EdgeAgentServicer):
    """AWS.LookoutVision.EdgeAgent on top of the registry and the per-model batchers."""

    def __init__(
        self,
        registry: ModelRegistry,
        metrics: AgentMetrics,
        callers: Callable[[str], Optional[Caller]],
        on_result: Optional[Callable[[str, Any], None]] = None,
    ) -> None:
        self.registry = registry
        self.metrics = metrics
        self.callers = callers  # context.peer() -> the caller's uid/gids (None: unknown, e.g. TCP)
        self.on_result = on_result  # e.g. the Greengrass publisher

    def _call(self, method: str, context: grpc.ServicerContext, fn: Callable[[], Any]) -> Any:
        try:
            response = fn()
        except Exception as exc:
            code = status_code_for(exc)
            if code == grpc.StatusCode.UNKNOWN:
                log.exception("%s: unexpected error", method)
                details = "unexpected error in the agent: %s: %s" % (type(exc).__name__, exc)
            else:
                details = str(exc)
            self.metrics.record_rpc(method, code.name)
            context.abort(code, details)
        self.metrics.record_rpc(method, "OK")
        return response

    def ListModels(self, request: Any, context: grpc.ServicerContext) -> Any:
        def run() -> Any:
            views = self.registry.list_models()
            return edge_agent_pb2.ListModelsResponse(models=[_metadata(edge_agent_pb2.ModelMetadata, v) for v in views])

        return self._call("ListModels", context, run)

    def DescribeModel(self, request: Any, context: grpc.ServicerContext) -> Any:
        def run() -> Any:
            view = self.registry.describe(request.model_component)
            return edge_agent_pb2.DescribeModelResponse(
                model_description=_metadata(edge_agent_pb2.ModelDescription, view)
            )

        return self._call("DescribeModel", context, run)

    def StartModel(self, request: Any, context: grpc.ServicerContext) -> Any:
        def run() -> Any:
            return edge_agent_pb2.StartModelResponse(status=_status_enum(self.registry.start(request.model_component)))

        return self._call("StartModel", context, run)

    def StopModel(self, request: Any, context: grpc.ServicerContext) -> Any:
        def run() -> Any:
            return edge_agent_pb2.StopModelResponse(status=_status_enum(self.registry.stop(request.model_component)))

        return self._call("StopModel", context, run)

    def DetectAnomalies(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self._call("DetectAnomalies", context, lambda: self._detect(request, context))

    def _detect(self, request: Any, context: grpc.ServicerContext) -> Any:
        started = time.monotonic()
        model = self.registry.running(request.model_component)
        metrics = self.metrics.model(model.name)
        metrics.begin_request()
        try:
            response, result = self._run_model(model, request, context)
        except Exception as exc:
            metrics.record_request(status_code_for(exc).name, time.monotonic() - started)
            raise
        metrics.record_request("OK", time.monotonic() - started)
        if self.on_result is not None:
            self.on_result(model.name, result)
        return response

    def _run_model(self, model: RunningModel, request: Any, context: grpc.ServicerContext) -> Tuple[Any, Any]:
        caller = self.callers(context.peer())
        frame = frame_from_bitmap(request.bitmap, caller)
        height, width = frame.shape[:2]
        target = None
        if model.manifest.task == "segmentation" and request.HasField("anomaly_mask_params"):
            target = mask_target(request.anomaly_mask_params, width, height, caller)
        remaining = context.time_remaining()
        if remaining is not None and remaining > NO_DEADLINE_S:  # gRPC reports "no deadline" as a huge number
            remaining = None
        deadline = time.monotonic() + remaining if remaining is not None else None
        future = model.batcher.submit(frame, deadline)
        try:
            prediction = future.result(timeout=remaining)
        except FutureTimeout:  # the caller's deadline passed while queued
            future.cancel()  # the batcher skips a cancelled request
            raise DeadlineExceeded("model %s did not answer within the call's deadline" % model.name) from None
        message, result = result_message(edge_agent_pb2, prediction, model, width, height, target)
        return edge_agent_pb2.DetectAnomaliesResponse(detect_anomaly_result=message), result


EDGE_AGENT_RPCS = ("DetectAnomalies", "StartModel", "StopModel", "ListModels", "DescribeModel")


def lenient_handlers(servicer: EdgeAgentServicer) -> grpc.GenericRpcHandler:
    """The EdgeAgent service with requests parsed here: undecodable bytes get INVALID_ARGUMENT and one
    warning line (gRPC's own deserializer answers INTERNAL and logs a traceback per request)."""
    handlers = {}
    for rpc in EDGE_AGENT_RPCS:
        request_cls = getattr(edge_agent_pb2, rpc + "Request")
        response_cls = getattr(edge_agent_pb2, rpc + "Response")
        handlers[rpc] = grpc.unary_unary_rpc_method_handler(
            _parsing(servicer, rpc, request_cls), response_serializer=response_cls.SerializeToString
        )
    return grpc.method_handlers_generic_handler("AWS.LookoutVision.EdgeAgent", handlers)


def _parsing(servicer: EdgeAgentServicer, rpc: str, request_cls: Any) -> Callable[[bytes, Any], Any]:
    method = getattr(servicer, rpc)

    def handle(raw: bytes, context: grpc.ServicerContext) -> Any:
        request = request_cls()
        try:
            request.ParseFromString(raw)
        except Exception as exc:  # google.protobuf.message.DecodeError and friends
            log.warning("%s: undecodable request (%d bytes) from %s: %s", rpc, len(raw), context.peer(), exc)
            servicer.metrics.record_rpc(rpc, "INVALID_ARGUMENT")
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          "request is not a valid %s protobuf message (%d bytes)" % (request_cls.__name__, len(raw)))
        return method(request, context)

    return handle


def _metadata(cls: Any, view: ModelView) -> Any:
    return cls(
        model_component=view.name,
        lookout_vision_model_arn=view.arn,
        status=_status_enum(view.status),
        status_message=view.status_message,
    )


class AgentAdminServicer(agent_admin_pb2_grpc.AgentAdminServicer):
    """edgeruntime.AgentAdmin: metrics for the CLI and scrapers."""

    def __init__(self, registry: ModelRegistry, metrics: AgentMetrics) -> None:
        self.registry = registry
        self.metrics = metrics

    def GetMetrics(self, request: Any, context: grpc.ServicerContext) -> Any:
        statuses = self.registry.statuses()
        self.metrics.record_rpc("GetMetrics", "OK")
        return agent_admin_pb2.GetMetricsResponse(
            prometheus_text=self.metrics.prometheus_text(statuses), json=self.metrics.to_json(statuses)
        )
