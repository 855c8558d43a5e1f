"""A deserialized TensorRT engine: its I/O contract, batch limits, and one execution context per stream.

Contexts: TensorRT lets concurrently used contexts of a dynamic-shape engine share no optimization
profile, so this makes min(requested, profiles) contexts, context k on profile k. With fewer contexts
than pipeline slots the predictor orders their use with events (inference runs one after the other,
preprocessing still overlaps). The compiler is asked to build one identical profile per stream.
Batch limits come from the profiles (a static engine runs its fixed batch, padded). Version differences
go through tensorrt_api.select_api. Python 3.8 compatible; tensorrt is imported in `load()`.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from edge_runtime.errors import FailedPrecondition, ModelPackageError
from edge_runtime.modelpkg.manifest import INPUT_NAME, SCORE_OUTPUT, SEG_OUTPUT, ModelManifest
from edge_runtime.runtime.gpu.cuda_device import DeviceLayer
from edge_runtime.runtime.gpu.tensorrt_api import TensorInfo, create_context, select_api, tensorrt_version

log = logging.getLogger(__name__)
DTYPE_NAMES = {np.dtype(np.float32): "float32", np.dtype(np.float16): "float16"}


def import_tensorrt() -> Any:
    try:
        import tensorrt
    except ImportError as exc:
        raise ImportError(
            "the tensorrt Python module is not installed (JetPack ships it; on x86 install TensorRT)"
        ) from exc
    return tensorrt


class TensorRTEngine:
    """Owns the runtime, the engine and its contexts; executes on caller-provided device buffers."""

    backend = "tensorrt"

    def __init__(
        self,
        plan_path: str,
        device: DeviceLayer,
        manifest: ModelManifest,
        max_batch_size: int = 8,
        contexts: int = 2,
        trt: Optional[Any] = None,
    ) -> None:
        self.plan_path = plan_path
        self.device = device
        self.manifest = manifest
        self.requested_batch = max_batch_size
        self.requested_contexts = contexts
        self._trt = trt
        self.version: Tuple[int, ...] = ()
        self.api: Any = None
        self.tensors: Dict[str, TensorInfo] = {}
        self.min_batch = 1
        self.max_batch_size = max_batch_size
        self.contexts: List[Tuple[Any, int]] = []  # (context, profile)
        self._engine: Any = None
        self._runtime: Any = None
        self._infer_stream: Any = None

    def load(self) -> None:
        trt = self._trt or import_tensorrt()
        self.version = tensorrt_version(trt)
        self._runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        with open(self.plan_path, "rb") as fh:
            engine = self._runtime.deserialize_cuda_engine(fh.read())
        if engine is None:
            raise FailedPrecondition(
                "TensorRT %s could not deserialize %s (built for another TensorRT version or GPU?)"
                % (".".join(map(str, self.version)), self.plan_path)
            )
        self._engine = engine
        self.api = select_api(trt, engine)
        self.tensors = {t.name: t for t in self.api.tensors()}
        self._check_io()
        self._batch_limits()
        setup = self.device.stream_create()
        count = max(1, min(self.requested_contexts, self.api.profiles))
        handle = self.device.stream_handle(setup)
        self.contexts = [(create_context(engine, k, handle), k) for k in range(count)]
        self.device.stream_sync(setup)
        log.info(
            "TensorRT %s engine %s: %s API, batch %d..%d, %d context(s)",
            ".".join(map(str, self.version)),
            self.plan_path,
            self.api.kind,
            self.min_batch,
            self.max_batch_size,
            len(self.contexts),
        )

    def _check_io(self) -> None:
        spec, wanted = self.manifest.input, [INPUT_NAME, SCORE_OUTPUT]
        if self.manifest.task == "segmentation":
            wanted.append(SEG_OUTPUT)
        missing = [n for n in wanted if n not in self.tensors]
        if missing:
            raise ModelPackageError("TensorRT engine lacks tensors %s (has %s)" % (missing, sorted(self.tensors)))
        image = self.tensors[INPUT_NAME]
        if not image.is_input or len(image.shape) != 4 or tuple(image.shape[1:]) != (3, spec.height, spec.width):
            raise ModelPackageError(
                "engine input %r must be [N, 3, %d, %d], got %s" % (INPUT_NAME, spec.height, spec.width, image.shape)
            )
        for name in wanted:
            info = self.tensors[name]
            if info.dtype not in DTYPE_NAMES:
                raise ModelPackageError("engine tensor %r must be float32 or float16, got %s" % (name, info.dtype))
            if any(d < 0 for d in info.shape[1:]):
                raise ModelPackageError(
                    "engine tensor %r may only have a dynamic batch axis, got %s" % (name, info.shape)
                )
        if int(np.prod(self.tensors[SCORE_OUTPUT].shape[1:])) != 1:
            raise ModelPackageError(
                "engine output %r must hold one value per image, got %s"
                % (SCORE_OUTPUT, self.tensors[SCORE_OUTPUT].shape)
            )

    def _batch_limits(self) -> None:
        image = self.tensors[INPUT_NAME]
        if image.shape[0] >= 0:  # static batch: always run exactly that batch
            self.min_batch = self.max_batch_size = int(image.shape[0])
            return
        lows, highs = [], []
        for profile in range(self.api.profiles):
            low, _, high = self.api.profile_shapes(INPUT_NAME, profile)
            lows.append(int(low[0]))
            highs.append(int(high[0]))
        self.min_batch = max(lows)
        self.max_batch_size = min(min(highs), max(self.requested_batch, self.min_batch))
        if self.max_batch_size < self.min_batch:
            raise ModelPackageError("engine profiles allow no common batch size (%s..%s)" % (lows, highs))

    def dtype_name(self, name: str) -> str:
        return DTYPE_NAMES[self.tensors[name].dtype]

    def item_shape(self, name: str) -> Tuple[int, ...]:
        return tuple(int(d) for d in self.tensors[name].shape[1:])

    def buffer_bytes(self, name: str) -> int:
        """Bytes for `name` at the largest batch this engine runs."""
        return int(np.prod(self.item_shape(name))) * self.tensors[name].dtype.itemsize * self.max_batch_size

    def run_batch(self, frames: int) -> int:
        """The batch actually executed for `frames` frames (padded up to the profile's minimum)."""
        if not 1 <= frames <= self.max_batch_size:
            raise ValueError("batch of %d frames outside 1..%d" % (frames, self.max_batch_size))
        return max(frames, self.min_batch)

    def execute(self, context_index: int, batch: int, addresses: Dict[str, int], stream: Any) -> None:
        """Set the batch shape and enqueue inference on `stream` (asynchronous)."""
        context, profile = self.contexts[context_index]
        if self.tensors[INPUT_NAME].shape[0] < 0:
            self.api.set_input_shape(context, profile, INPUT_NAME, (batch,) + self.item_shape(INPUT_NAME))
        self.api.execute(context, profile, addresses, self.device.stream_handle(stream))

    def infer(self, batch: np.ndarray) -> Dict[str, np.ndarray]:
        """The Engine seam: host NCHW batch in, host outputs out, synchronously on context 0.

        The predictor does not use this (it preprocesses into device buffers); benchmarks and tools may.
        """
        n = batch.shape[0]
        run = self.run_batch(n)
        names = [name for name, info in self.tensors.items() if not info.is_input]
        if self._infer_stream is None:
            self._infer_stream = self.device.stream_create()
        stream = self._infer_stream
        pointers = {name: self.device.alloc(self.buffer_bytes(name)) for name in [INPUT_NAME] + names}
        try:
            data = np.ascontiguousarray(batch, dtype=self.tensors[INPUT_NAME].dtype)
            self.device.htod(pointers[INPUT_NAME], data, stream)
            self.execute(0, run, pointers, stream)
            outputs = {}
            for name in names:
                host = np.empty((run,) + self.item_shape(name), dtype=self.tensors[name].dtype)
                self.device.dtoh(host, pointers[name], stream)
                outputs[name] = host
            self.device.stream_sync(stream)
        finally:
            for ptr in pointers.values():
                self.device.free(ptr)
        return {name: value[:n].astype(np.float32) for name, value in outputs.items()}

    def close(self) -> None:
        self.contexts = []
        self._engine = None
        self._runtime = None
