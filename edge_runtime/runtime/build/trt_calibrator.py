"""TensorRT INT8 entropy calibration: batches from calibration.npz, a calibration cache on disk.

TensorRT's `get_batch` wants device pointers. Memory movement sits behind `DeviceBuffers`, a two-method
seam: `CudaBuffers` (cuda-python) on a GPU, a host stand-in in the tests where no GPU exists. The
calibrator class derives from `tensorrt.IInt8EntropyCalibrator2`, so it is made inside a function
after TensorRT is imported lazily. Python 3.8 compatible: it runs on the device at first start.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Dict, Iterator, List, Optional, Sequence

import numpy as np

from edge_runtime.runtime.gpu.cuda_api import check, load_runtime

try:  # Python 3.8 has typing.Protocol
    from typing import Protocol
except ImportError:  # pragma: no cover
    Protocol = object  # type: ignore

log = logging.getLogger(__name__)


class DeviceBuffers(Protocol):
    """Copies a host batch to device memory owned by this object and returns its address."""

    def upload(self, name: str, array: np.ndarray) -> int: ...

    def close(self) -> None: ...


class CudaBuffers:
    """DeviceBuffers on a GPU with cuda-python: one allocation per input name, reused every batch."""

    def __init__(self) -> None:
        self._rt: Any = None
        self._buffers: Dict[str, List[int]] = {}  # name -> [pointer, nbytes]

    def upload(self, name: str, array: np.ndarray) -> int:
        rt = self._rt = self._rt or load_runtime()
        host = np.ascontiguousarray(array)
        slot = self._buffers.get(name)
        if slot is None or slot[1] < host.nbytes:
            if slot is not None:
                check(rt.cudaFree(slot[0]), "cudaFree")
            slot = [int(check(rt.cudaMalloc(host.nbytes), "cudaMalloc")), host.nbytes]
            self._buffers[name] = slot
        kind = rt.cudaMemcpyKind.cudaMemcpyHostToDevice
        check(rt.cudaMemcpy(slot[0], host.ctypes.data, host.nbytes, kind), "cudaMemcpy")
        return slot[0]

    def close(self) -> None:
        for pointer, _ in self._buffers.values():
            check(self._rt.cudaFree(pointer), "cudaFree")
        self._buffers = {}


class CalibrationCache:
    """Reads the first cache that exists (device cache dir, then the one the package carries); writes one."""

    def __init__(self, write_path: str, read_paths: Sequence[str] = ()) -> None:
        self.write_path = write_path
        self.read_paths = [write_path] + [p for p in read_paths if p]

    def read(self) -> Optional[bytes]:
        for path in self.read_paths:
            if os.path.isfile(path):
                with open(path, "rb") as fh:
                    log.info("using INT8 calibration cache %s", path)
                    return fh.read()
        return None

    def write(self, data: bytes) -> None:
        os.makedirs(os.path.dirname(self.write_path) or ".", exist_ok=True)
        tmp = self.write_path + ".tmp"
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, self.write_path)


def make_entropy_calibrator(
    trt: Any,
    batches: Iterator[np.ndarray],
    batch_size: int,
    input_name: str,
    buffers: DeviceBuffers,
    cache: CalibrationCache,
) -> Any:
    """An IInt8EntropyCalibrator2 feeding `batches`; errors inside TensorRT's callbacks are kept in `.error`."""

    class EntropyCalibrator(trt.IInt8EntropyCalibrator2):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            trt.IInt8EntropyCalibrator2.__init__(self)
            self.batches_served = 0
            self.error: Optional[BaseException] = None

        def get_batch_size(self) -> int:
            return batch_size

        def get_batch(self, names: Sequence[str], *unused: Any) -> Optional[List[int]]:
            try:
                batch = next(batches, None)
                if batch is None:
                    return None
                if list(names) != [input_name]:
                    raise ValueError("TensorRT asked for inputs %s; the model's input is %r"
                                     % (list(names), input_name))
                self.batches_served += 1
                return [buffers.upload(input_name, batch)]
            except Exception as exc:  # TensorRT would swallow it: keep it for build_engine to raise
                self.error = exc
                return None

        def read_calibration_cache(self) -> Optional[bytes]:
            return cache.read()

        def write_calibration_cache(self, data: Any) -> None:
            cache.write(bytes(data))

    return EntropyCalibrator()
