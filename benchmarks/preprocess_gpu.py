#!/usr/bin/env python
"""Preprocessing throughput: CUDA kernels vs the CPU path (cv2 + NumPy), frames per second.

For each frame size and interpolation: the CPU path (runtime/preprocess.preprocess_batch, cv2 using its
own threads), the kernel with the frame already in device memory, and the kernel reading frames where
they lie in registered host memory (the agent's zero-copy shared-memory path; on a discrete GPU this
includes the bus transfer). scripts/gpu_check.py uses `measure` for its 5-megapixel numbers.

Run on a GPU machine:  python benchmarks/preprocess_gpu.py [--seconds 2] [--sizes 2592x1944,1920x1080]
Anywhere (timings meaningless, checks the plumbing):  python benchmarks/preprocess_gpu.py --cpu-dry-run
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def rate(step: Callable[[], Any], frames: int, seconds: float, max_calls: int = 500) -> float:
    """Frames per second of `step` after one warm-up call, timed for about `seconds` (at least one call)."""
    step()
    calls, start = 0, time.perf_counter()
    while True:
        step()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds or calls >= max_calls:
            return calls * frames / max(elapsed, 1e-9)


def cpu_preprocess_or_none(frames: Sequence[np.ndarray], spec: Any) -> Optional[np.ndarray]:
    """The CPU path's output, or None where cv2 is not installed (the GPU check then says so)."""
    try:
        from edge_runtime.runtime.preprocess import preprocess_batch
    except ImportError:
        return None
    return preprocess_batch(frames, spec)


def measure(
    device: Any,
    kernels: Any,
    frames: Sequence[np.ndarray],
    spec: Any,
    seconds: float,
    mapped: Optional[Sequence[Tuple[int, int]]] = None,
    hosts: Optional[Sequence[int]] = None,
) -> Dict[str, Optional[float]]:
    """Frames/s: the CPU path; the kernel on device-resident frames; on `mapped` frames ((device address,
    pitch) of registered host memory, read by the kernel); and DMA of the registered `hosts` addresses to
    device memory followed by the kernel (the predictor's transfer on discrete GPUs)."""
    from edge_runtime.runtime.gpu.preprocess_cuda import CudaPreprocessor

    height, width = frames[0].shape[:2]
    has_cpu = cpu_preprocess_or_none(frames[:1], spec) is not None
    result: Dict[str, Optional[float]] = {"cpu_frames_per_s": None}
    if has_cpu:
        result["cpu_frames_per_s"] = rate(lambda: cpu_preprocess_or_none(frames, spec), len(frames), seconds)
    pre = CudaPreprocessor(kernels, spec)
    stream = device.stream_create()
    out = device.alloc(len(frames) * pre.item_bytes)
    src = device.alloc(frames[0].nbytes)
    try:
        device.htod(src, np.ascontiguousarray(frames[0]), stream)

        def run(pointers: Sequence[Tuple[int, int]]) -> None:
            for i, (ptr, pitch) in enumerate(pointers):
                pre.enqueue(ptr, pitch, width, height, out, i, stream)
            device.stream_sync(stream)

        resident = [(src, 3 * width)] * len(frames)
        result["gpu_resident_frames_per_s"] = rate(lambda: run(resident), len(frames), seconds)
        if mapped:
            result["gpu_mapped_frames_per_s"] = rate(lambda: run(mapped), len(mapped), seconds)
        if hosts:
            staging = [device.alloc(frames[0].nbytes) for _ in hosts]
            try:

                def dma_then_run() -> None:
                    for target, host in zip(staging, hosts):
                        device.htod_address(target, host, frames[0].nbytes, stream)
                    run([(target, 3 * width) for target in staging])

                result["gpu_dma_frames_per_s"] = rate(dma_then_run, len(hosts), seconds)
            finally:
                for target in staging:
                    device.free(target)
    finally:
        device.free(out)
        device.free(src)
        pre.close()
    cpu = result["cpu_frames_per_s"]
    for key in ("gpu_resident_frames_per_s", "gpu_mapped_frames_per_s", "gpu_dma_frames_per_s"):
        value = result.get(key)
        if cpu and value:
            result[key.replace("_frames_per_s", "_speedup")] = value / cpu
    return result


def _open(dry_run: bool) -> Tuple[Any, Any]:
    from edge_runtime.runtime.gpu.cuda_device import CudaDevice
    from edge_runtime.runtime.gpu.nvrtc_compile import CompiledKernels, load_or_compile
    from edge_runtime.runtime.gpu.preprocess_cuda import KernelSet
    from tests.gpu.emulated_cuda import EmulatedDevice

    device = EmulatedDevice() if dry_run else CudaDevice()
    device.open()
    try:
        compiled = load_or_compile(*device.arch)
    except Exception:
        if not dry_run:
            raise
        compiled = CompiledKernels(b"emulated", "cubin", "sm_72", (0, 0))
    return device, KernelSet(device, compiled.image, compiled.kind)


def main(argv: Optional[List[str]] = None) -> int:
    from edge_runtime.modelpkg.manifest import InputSpec

    parser = argparse.ArgumentParser(description="CUDA vs CPU preprocessing throughput")
    parser.add_argument("--sizes", default="2592x1944,1920x1080,640x480")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--cpu-dry-run", action="store_true")
    args = parser.parse_args(argv)
    device, kernels = _open(args.cpu_dry_run)
    rng = np.random.default_rng(0)
    print("%-10s %-7s %12s %14s %9s" % ("frame", "interp", "cpu fr/s", "gpu res fr/s", "speedup"))
    for size in args.sizes.split(","):
        width, height = (int(v) for v in size.lower().split("x"))
        frames = [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(args.batch)]
        for interpolation in ("area", "linear"):
            numbers = measure(device, kernels, frames, InputSpec(224, 224, interpolation=interpolation), args.seconds)
            cpu, gpu = numbers["cpu_frames_per_s"], numbers["gpu_resident_frames_per_s"]
            print(
                "%-10s %-7s %12s %14.1f %9s"
                % (
                    size,
                    interpolation,
                    "%.1f" % cpu if cpu else "n/a",
                    gpu or 0.0,
                    "%.1fx" % (gpu / cpu) if cpu and gpu else "n/a",
                )
            )
    device.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
