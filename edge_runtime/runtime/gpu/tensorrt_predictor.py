"""The GPU Predictor: zero-copy CUDA preprocessing, TensorRT inference, GPU segmentation postprocess.

Per batch, on one pipeline slot's stream: each frame is resized + normalised straight into the engine's
input buffer (read in place from registered shared memory, or from a pinned staging copy for inline
frames), TensorRT runs, scores and (segmentation) class maps + counts come back. `submit` enqueues and
returns at once; `collect` waits. With two slots, `predict_pipelined` (or two threads calling `predict`)
preprocesses batch k+1 while batch k is in inference. Frames must stay unchanged until their batch is
collected (shared-memory clients reuse a buffer only after the response, so this holds).

`create_tensorrt_predictor` (used by runtime/factory.py) returns (None, note) when TensorRT, cuda-python
or a GPU is missing, and the factory falls back to the CPU path with that note.
Python 3.8 compatible; GPU libraries are imported in `load()` / the availability checks.
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Callable, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from edge_runtime.modelpkg.manifest import INPUT_NAME, SCORE_OUTPUT, SEG_OUTPUT, ModelManifest
from edge_runtime.runtime.gpu.copy_counter import CopyCounter
from edge_runtime.runtime.gpu.cuda_device import DeviceLayer, open_device
from edge_runtime.runtime.gpu.engine_source import EngineSource, gpu_status
from edge_runtime.runtime.gpu.nvrtc_compile import CompiledKernels, load_or_compile
from edge_runtime.runtime.gpu.pinned import PinnedStagingRing, SharedMemoryRegistry, acquire_registry, release_registry
from edge_runtime.runtime.gpu.pipeline_slot import PendingBatch, PipelineSlot
from edge_runtime.runtime.gpu.postprocess_cuda import CudaSegPostprocessor
from edge_runtime.runtime.gpu.preprocess_cuda import CudaPreprocessor, KernelSet, check_frame
from edge_runtime.runtime.gpu.tensorrt_engine import TensorRTEngine
from edge_runtime.runtime.types import Prediction

SLOTS = 2
TRANSFERS = ("auto", "mapped", "dma")  # auto: mapped on integrated GPUs (Jetson), dma on discrete ones
Compiler = Callable[[int, int], CompiledKernels]


class TensorRTPredictor:
    """Frames in, Predictions out, on a CUDA GPU with TensorRT; cheap to construct, `load()` does the work."""

    def __init__(
        self,
        manifest: ModelManifest,
        source: EngineSource,
        max_batch_size: int = 8,
        device: Optional[DeviceLayer] = None,
        trt: Optional[Any] = None,
        compiler: Optional[Compiler] = None,
        slots: int = SLOTS,
        transfer: str = "auto",
        backend_note: str = "tensorrt",
    ) -> None:
        if transfer not in TRANSFERS:
            raise ValueError("transfer must be one of %s, got %r" % (", ".join(TRANSFERS), transfer))
        self.transfer = transfer
        self.manifest = manifest
        self.source = source
        self.max_batch_size = max_batch_size
        self.backend_note = self.backend_reason = backend_note
        self.instances = 1  # one predict at a time; the pipeline slots overlap its stages
        self.copy_counter = CopyCounter()
        self._layer, self._trt, self._slot_count = device, trt, slots
        self._compiler = compiler or (lambda major, minor: load_or_compile(major, minor))
        self.device: Any = None
        self.engine: Any = None
        self._pre: Any = None
        self._seg: Optional[CudaSegPostprocessor] = None
        self._registry: Optional[SharedMemoryRegistry] = None
        self._staging: Optional[PinnedStagingRing] = None
        self._slots: List[PipelineSlot] = []
        self._free: "queue.Queue[PipelineSlot]" = queue.Queue()
        self._lock = threading.Lock()
        self._context_last: dict = {}
        self._sequence = 0

    @property
    def backend(self) -> str:
        return "tensorrt"

    def load(self) -> None:
        self.device = open_device(layer=self._layer)
        if self.transfer == "auto":
            self.transfer = "mapped" if getattr(self.device, "integrated", False) else "dma"
        compiled = self._compiler(*self.device.arch)
        kernels = KernelSet(self.device, compiled.image, compiled.kind)
        engine = TensorRTEngine(
            self.source.resolve(), self.device, self.manifest, self.max_batch_size, self._slot_count, self._trt
        )
        engine.load()
        self.engine, self.max_batch_size = engine, engine.max_batch_size
        self._pre = CudaPreprocessor(kernels, self.manifest.input, engine.dtype_name(INPUT_NAME))
        if self.manifest.task == "segmentation":
            classes, low_h, low_w = engine.item_shape(SEG_OUTPUT)
            if classes != len(self.manifest.classes):
                raise ValueError(
                    "engine seg output has %d classes, manifest %d" % (classes, len(self.manifest.classes))
                )
            self._seg = CudaSegPostprocessor(kernels, classes, (low_h, low_w), engine.dtype_name(SEG_OUTPUT))
        self._registry = acquire_registry(self.device)
        self._staging = PinnedStagingRing(self.device)
        self._slots = [PipelineSlot(k, self.device, engine) for k in range(self._slot_count)]
        for slot in self._slots:
            self._free.put(slot)

    def warmup(self) -> None:
        spec = self.manifest.input
        frame = np.zeros((spec.height, spec.width, 3), dtype=np.uint8)
        for n in sorted({1, self.max_batch_size}):
            self.predict([frame] * n)

    def predict(self, frames: Sequence[np.ndarray]) -> List[Prediction]:
        if not frames:
            return []
        return self.collect(self.submit(frames))

    def predict_pipelined(self, batches: Iterable[Sequence[np.ndarray]]) -> Iterator[List[Prediction]]:
        """Double buffering: batch k+1 is submitted (preprocessing starts) before batch k is collected."""
        pending: Optional[PendingBatch] = None
        for frames in batches:
            following = self.submit(frames)
            if pending is not None:
                yield self.collect(pending)
            pending = following
        if pending is not None:
            yield self.collect(pending)

    def submit(self, frames: Sequence[np.ndarray]) -> PendingBatch:
        """Enqueue preprocessing, inference and postprocessing of one batch; returns without waiting."""
        if self.engine is None:
            raise RuntimeError("predictor not loaded")
        if not 1 <= len(frames) <= self.max_batch_size:
            raise ValueError("batch of %d frames outside 1..%d" % (len(frames), self.max_batch_size))
        for frame in frames:
            check_frame(frame)
        slot = self._free.get()
        try:
            with self._lock:
                self.device.activate()
                pending = self._enqueue(slot, frames)
        except BaseException:
            self.device.stream_sync(slot.stream)
            self._free.put(slot)
            raise
        self.copy_counter.commit(pending.copies)
        return pending

    def _enqueue(self, slot: PipelineSlot, frames: Sequence[np.ndarray]) -> PendingBatch:
        copies = self.copy_counter.begin(len(frames))
        sizes = [(int(f.shape[1]), int(f.shape[0])) for f in frames]
        for i, frame in enumerate(frames):
            address, pitch = self._frame_source(slot, i, frame, copies)
            self._pre.enqueue(address, pitch, sizes[i][0], sizes[i][1], slot.buffers[INPUT_NAME], i, slot.stream)
        self._infer(slot, self.engine.run_batch(len(frames)))
        self.device.dtoh(
            slot.host_score.array[: len(frames) * slot.score_dtype.itemsize], slot.buffers[SCORE_OUTPUT], slot.stream
        )
        if self._seg is not None:
            item = self._seg.item_bytes
            for i, (width, height) in enumerate(sizes):
                self._seg.enqueue(slot.index, i, slot.buffers[SEG_OUTPUT] + i * item, width, height, slot.stream)
        self.device.event_record(slot.done, slot.stream)
        self._sequence += 1
        return PendingBatch(slot, sizes, copies, self._sequence)

    def _frame_source(self, slot: PipelineSlot, index: int, frame: np.ndarray, copies: Any) -> Tuple[int, int]:
        """(device address, row pitch) the kernel reads the frame from; host copies are recorded in `copies`.

        Shared memory is read where it lies, anything else is staged once into pinned memory. With
        transfer "dma" (discrete GPUs) the page-locked bytes are then DMA'd to device memory on the
        slot's stream, which reads the bus once at full speed instead of a kernel reading through it.
        """
        assert self._registry is not None and self._staging is not None
        located = self._registry.locate(frame)
        if located is not None:
            host, (address, pitch) = int(frame.ctypes.data), located
        else:
            host, address, pitch = self._staging.stage(slot.index, index, frame, copies)
        if self.transfer != "dma":
            return address, pitch
        nbytes = (frame.shape[0] - 1) * pitch + 3 * frame.shape[1]
        target = slot.frame_buffer(index, nbytes)
        self.device.htod_address(target, host, nbytes, slot.stream)
        return target, pitch

    def _infer(self, slot: PipelineSlot, batch: int) -> None:
        """Run the engine on the slot's stream, after any other slot's use of the same context."""
        previous = self._context_last.get(slot.context_index)
        if previous is not None and previous is not slot:
            self.device.stream_wait(slot.stream, previous.infer_done)
        self.engine.execute(slot.context_index, batch, slot.buffers, slot.stream)
        self.device.event_record(slot.infer_done, slot.stream)
        self._context_last[slot.context_index] = slot

    def collect(self, pending: PendingBatch) -> List[Prediction]:
        """Wait for a submitted batch and turn its results into Predictions; frees its slot."""
        if pending.collected:
            raise RuntimeError("batch %d was collected already" % pending.sequence)
        slot = pending.slot
        try:
            self.device.activate()
            self.device.event_sync(slot.done)
            return self._predictions(pending)
        finally:
            pending.collected = True
            self._free.put(slot)

    def _predictions(self, pending: PendingBatch) -> List[Prediction]:
        scores = pending.slot.scores(len(pending.sizes))
        if self._seg is None:
            return [Prediction(score=float(s)) for s in scores]
        out = []
        for i, (width, height) in enumerate(pending.sizes):
            class_map, counts = self._seg.result(pending.slot.index, i, width, height)
            fractions = (counts / float(width * height)).tolist()
            out.append(Prediction(score=float(scores[i]), class_map=class_map, class_fractions=fractions))
        return out

    def close(self) -> None:
        if self.device is None:
            return
        self.device.synchronize()
        if self._registry is not None:
            release_registry(self._registry)
            self._registry = None
        for part in (self._staging, self._pre, self._seg):
            if part is not None:
                part.close()
        for slot in self._slots:
            slot.free()
        self._slots = []
        if self.engine is not None:
            self.engine.close()
        self.device.close()
        self.device = None


def create_tensorrt_predictor(package: Any, options: Any) -> Tuple[Optional[TensorRTPredictor], str]:
    """(predictor, its note) on a machine with TensorRT, cuda-python and a GPU; else (None, why) for the CPU path."""
    available, detail = gpu_status()
    if available:
        try:
            source = EngineSource.from_package(package)
        except ValueError as exc:
            available, detail = False, str(exc)
    if not available:
        return None, "TensorRT path unavailable (%s); using the CPU path" % detail
    note = "tensorrt on %s with CUDA preprocessing (%s)" % (detail, source.describe())
    return TensorRTPredictor(package.manifest, source, max_batch_size=options.max_batch_size, backend_note=note), note
