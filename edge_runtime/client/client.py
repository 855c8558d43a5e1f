"""`EdgeAgentClient`: the Python client for line software talking to the edge agent.

    from edge_runtime.client import EdgeAgentClient
    with EdgeAgentClient() as client:                       # the Lookout default Unix socket
        client.start_model("my-model", wait=True)
        result = client.detect("my-model", "part.png")      # or PNG/JPEG bytes, or an array:
        result = client.detect("my-model", frame, color_order="BGR")   # OpenCV frames are BGR
        result = client.detect("my-model", frame, color_order="RGB", shared_memory=True)

Every gRPC failure becomes a `ClientError` with the status name and the agent's message. With
`shared_memory=True` the client copies frames into one segment it owns (reused, grown when a frame
is bigger) and sends only its name; `mask_to_shared_memory=True` has the agent write the mask there
too. One client may be shared by threads; shared-memory calls of one client take turns (use one
client per thread to overlap them). Python 3.8 compatible.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any, Dict, List, Optional

import numpy as np

from edge_runtime.client.errors import ClientError, ModelFailed, from_rpc_error
from edge_runtime.client.images import to_rgb_frame
from edge_runtime.client.result import Anomaly, DetectResult, ModelInfo
from edge_runtime.client.segment import ClientSegment
from edge_runtime.errors import require

DEFAULT_TARGET = "unix:///tmp/aws.iot.lookoutvision.EdgeAgent.sock"
MAX_MESSAGE_BYTES = 100 * 1024 * 1024  # a 4096 x 4096 RGB frame is 48 MiB


def normalize_target(target: str) -> str:
    """`unix:///path`, a bare socket path, or `host:port`, as a gRPC target string."""
    if target.startswith("/"):
        return "unix://" + target
    return target


def _admin_pb2() -> Any:
    from edge_runtime.agent.proto import agent_admin_pb2

    return agent_admin_pb2


class EdgeAgentClient:
    """Cheap to construct; the channel connects on the first call. Close it (or use `with`)."""

    def __init__(
        self,
        target: str = DEFAULT_TARGET,
        timeout: float = 30.0,
        shared_memory: bool = False,
        segment_name: Optional[str] = None,
        segment_mode: int = 0o660,
        credentials: Any = None,
    ) -> None:
        grpc = require("grpc", "agent")
        from edge_runtime.agent.proto import agent_admin_pb2_grpc, edge_agent_pb2, edge_agent_pb2_grpc

        self.target = normalize_target(target)
        self.timeout = timeout
        self.shared_memory = shared_memory
        self._pb: Any = edge_agent_pb2  # generated code is untyped
        options = [("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                   ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)]
        if credentials is not None:
            self._channel = grpc.secure_channel(self.target, credentials, options=options)
        else:
            self._channel = grpc.insecure_channel(self.target, options=options)
        self._stub = edge_agent_pb2_grpc.EdgeAgentStub(self._channel)
        self._admin = agent_admin_pb2_grpc.AgentAdminStub(self._channel)
        self._segment = ClientSegment(segment_name, segment_mode)
        self._segment_lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the channel and remove the client's shared-memory segment."""
        self._channel.close()
        with self._segment_lock:
            self._segment.release()

    def __enter__(self) -> "EdgeAgentClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def wait_for_agent(self, timeout: float = 10.0) -> None:
        """Block until the channel connects; ClientError(UNAVAILABLE) when nothing answers in time."""
        grpc = require("grpc", "agent")
        try:
            grpc.channel_ready_future(self._channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            raise ClientError("UNAVAILABLE", "no connection within %.1f s" % timeout, self.target) from None

    def _call(self, method: Any, request: Any, timeout: Optional[float] = None) -> Any:
        grpc = require("grpc", "agent")
        try:
            return method(request, timeout=self.timeout if timeout is None else timeout)
        except grpc.RpcError as exc:
            raise from_rpc_error(exc, self.target) from None

    # -- models ----------------------------------------------------------------------------------
    def list_models(self) -> List[ModelInfo]:
        response = self._call(self._stub.ListModels, self._pb.ListModelsRequest())
        return [self._info(m) for m in response.models]

    def describe_model(self, model: str) -> ModelInfo:
        response = self._call(self._stub.DescribeModel, self._pb.DescribeModelRequest(model_component=model))
        return self._info(response.model_description)

    def start_model(self, model: str, wait: bool = False, wait_timeout: float = 300.0) -> str:
        """StartModel; returns the status name (STARTING), or RUNNING after waiting when `wait`."""
        response = self._call(self._stub.StartModel, self._pb.StartModelRequest(model_component=model))
        status = self._pb.ModelStatus.Name(response.status)
        if wait:
            return self.wait_until_running(model, wait_timeout).status
        return status

    def stop_model(self, model: str) -> str:
        response = self._call(self._stub.StopModel, self._pb.StopModelRequest(model_component=model))
        return self._pb.ModelStatus.Name(response.status)

    def wait_until_running(self, model: str, timeout: float = 300.0, poll_interval: float = 1.0) -> ModelInfo:
        """The documented polling: DescribeModel, sleep while STARTING, give up on FAILED."""
        deadline = time.monotonic() + timeout
        while True:
            info = self.describe_model(model)
            if info.status == "RUNNING":
                return info
            if info.status == "FAILED":
                raise ModelFailed("FAILED", "model %s failed to start: %s"
                                  % (model, info.status_message or "no status message"), self.target)
            if info.status != "STARTING":
                raise ClientError("FAILED_PRECONDITION", "model %s is %s, not starting; start it first"
                                  % (model, info.status), self.target)
            if time.monotonic() + poll_interval > deadline:
                raise ClientError("DEADLINE_EXCEEDED", "model %s still STARTING after %.0f s" % (model, timeout),
                                  self.target)
            time.sleep(poll_interval)

    def _info(self, message: Any) -> ModelInfo:
        return ModelInfo(message.model_component, self._pb.ModelStatus.Name(message.status),
                         message.status_message, message.lookout_vision_model_arn)

    # -- metrics ---------------------------------------------------------------------------------
    def metrics(self) -> Dict[str, Any]:
        """AgentAdmin.GetMetrics as a dict (per-model requests, batch sizes, latencies, memory)."""
        response = self._call(self._admin.GetMetrics, _admin_pb2().GetMetricsRequest())
        return json.loads(response.json or "{}")

    def metrics_text(self) -> str:
        """The same metrics in the Prometheus text exposition format."""
        return self._call(self._admin.GetMetrics, _admin_pb2().GetMetricsRequest()).prometheus_text

    # -- inference -------------------------------------------------------------------------------
    def detect(
        self,
        model: str,
        image: Any,
        color_order: Optional[str] = None,
        shared_memory: Optional[bool] = None,
        mask_to_shared_memory: bool = False,
        timeout: Optional[float] = None,
    ) -> DetectResult:
        """DetectAnomalies on a file path, PNG/JPEG bytes, or an array with `color_order` RGB or BGR."""
        frame = to_rgb_frame(image, color_order)
        use_shm = self.shared_memory if shared_memory is None else shared_memory
        if not (use_shm or mask_to_shared_memory):
            bitmap = self._pb.Bitmap(width=frame.shape[1], height=frame.shape[0], byte_data=frame.tobytes())
            return self._detect(self._pb.DetectAnomaliesRequest(model_component=model, bitmap=bitmap), timeout)
        with self._segment_lock:
            return self._detect_via_segment(model, frame, use_shm, mask_to_shared_memory, timeout)

    def _detect_via_segment(
        self, model: str, frame: np.ndarray, use_shm: bool, want_mask: bool, timeout: Optional[float]
    ) -> DetectResult:
        pb = self._pb
        height, width = frame.shape[:2]
        nbytes = frame.nbytes
        mask_offset, needed = self._segment.layout(nbytes, want_mask)
        segment = self._segment.ensure(needed)
        request = pb.DetectAnomaliesRequest(model_component=model)
        request.bitmap.width, request.bitmap.height = width, height
        if use_shm:
            segment.write(0, frame)
            request.bitmap.shared_memory_handle.CopyFrom(pb.SharedMemoryHandle(name=segment.name, size=nbytes))
        else:
            request.bitmap.byte_data = frame.tobytes()
        if want_mask:
            request.anomaly_mask_params.shared_memory_handle.CopyFrom(
                pb.SharedMemoryHandle(name=segment.name, size=nbytes, offset=mask_offset))
        return self._detect(request, timeout, mask_offset if want_mask else None)

    def _detect(self, request: Any, timeout: Optional[float], mask_offset: Optional[int] = None) -> DetectResult:
        response = self._call(self._stub.DetectAnomalies, request, timeout)
        result = response.detect_anomaly_result
        anomalies = tuple(
            Anomaly(a.name, float(a.pixel_anomaly.total_percentage_area), a.pixel_anomaly.hex_color)
            for a in result.anomalies
        )
        mask = self._mask(result, mask_offset)
        return DetectResult(bool(result.is_anomalous), float(result.confidence), float(result.anomaly_score),
                            float(result.anomaly_threshold), anomalies, mask)

    def _mask(self, result: Any, mask_offset: Optional[int]) -> Optional[np.ndarray]:
        if not result.HasField("anomaly_mask"):
            return None
        bitmap = result.anomaly_mask
        shape = (bitmap.height, bitmap.width, 3)
        kind = bitmap.WhichOneof("data")
        if kind == "byte_data":
            return np.frombuffer(bitmap.byte_data, dtype=np.uint8).reshape(shape)
        if kind == "shared_memory_handle":
            return self._segment.read_array(int(bitmap.shared_memory_handle.offset), shape)
        if mask_offset is not None and bitmap.width > 0:
            return self._segment.read_array(mask_offset, shape)
        return None
