#!/usr/bin/env python3
"""One prepared run of every GPU-path check that needs a real NVIDIA GPU; results to commit.

    python scripts/gpu_check.py --out "$OUT"          # on a GPU machine (cuda-python + NVRTC; TensorRT optional)
    python scripts/gpu_check.py --cpu-dry-run --out /tmp/x   # anywhere: the same steps on the NumPy CUDA emulation

Steps: compile the kernels with NVRTC for the device's architecture; compare the CUDA preprocessing with
the NumPy twin of the kernels (expected bit-identical) and with the CPU path (cv2, within 1e-3) for
several frame sizes, both interpolation paths, BGR, float16 and a padded row pitch; the segmentation
postprocess against the CPU postprocess; the full predictor path (streams, events, pinned staging,
shared-memory registration) with frames in a real /dev/shm segment, which must make zero host copies
(TensorRT is replaced by a no-op engine when absent: inference itself is not measured here); and
preprocessing throughput for 5-megapixel frames against the CPU path (goal: >= 10x). Writes
gpu_check.json and gpu_check.md (for benchmarks/results/). Exit status 1 when a correctness check fails.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import json  # noqa: E402
import platform  # noqa: E402
import traceback  # noqa: E402
import types  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
from preprocess_gpu import cpu_preprocess_or_none as cpu_preprocess  # noqa: E402
from preprocess_gpu import measure, rate  # noqa: E402

FIVE_MP = (2592, 1944)
# (source width, height, InputSpec keyword arguments, label)
CASES = [
    (640, 480, dict(width=224, height=224), "area, fractional 2.86x2.14"),
    (2592, 1944, dict(width=224, height=224), "area, 5 MP"),
    (1920, 1080, dict(width=513, height=389), "area, odd ratios"),
    (448, 448, dict(width=224, height=224), "area, exact 2x2"),
    (672, 672, dict(width=224, height=224), "area, integer 3x3"),
    (100, 80, dict(width=224, height=224), "linear, enlarging"),
    (1000, 700, dict(width=300, height=250, interpolation="linear"), "linear, shrinking"),
    (640, 480, dict(width=224, height=224, color_order="BGR"), "area, BGR"),
    (1280, 720, dict(width=320, height=320, dtype="float16"), "area, float16"),
    (200, 150, dict(width=320, height=320, dtype="float16"), "linear, float16"),
]


class Report:
    """Results of every step, with a progress line on stderr for each."""

    def __init__(self, dry_run: bool) -> None:
        self.dry_run = dry_run
        self.steps: List[Dict[str, Any]] = []
        self.environment: Dict[str, Any] = {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "machine": platform.machine(),
            "dry_run": dry_run,
        }
        self.started = time.time()

    @property
    def passed(self) -> bool:
        return bool(self.steps) and all(s["ok"] for s in self.steps)

    def progress(self, text: str) -> None:
        print("[gpu_check %5.1fs] %s" % (time.time() - self.started, text), file=sys.stderr, flush=True)

    def add(self, name: str, ok: bool, **data: Any) -> None:
        self.steps.append(dict(name=name, ok=bool(ok), **data))
        self.progress("%s %s" % ("PASS" if ok else "FAIL", name))

    def run(self, name: str, step: Callable[[], None]) -> None:
        self.progress("step: %s" % name)
        try:
            step()
        except Exception as exc:  # record and go on: later steps still report
            self.add(name, False, error="%s: %s" % (type(exc).__name__, exc), traceback=traceback.format_exc())


def open_layer(ctx: Dict[str, Any], report: Report, dry_run: bool) -> None:
    """The device (real or emulated), the kernels compiled for its architecture, and versions."""
    from edge_runtime.runtime.gpu.cuda_device import CudaDevice
    from edge_runtime.runtime.gpu.nvrtc_compile import CompiledKernels, load_or_compile
    from edge_runtime.runtime.gpu.preprocess_cuda import KernelSet
    from tests.gpu.emulated_cuda import EmulatedDevice

    device = EmulatedDevice() if dry_run else CudaDevice()
    device.open()
    ctx["device"] = device
    env = report.environment
    env.update(device=device.name, arch="sm_%d%d" % device.arch, integrated=getattr(device, "integrated", None))
    env["cv2"] = _version("cv2")
    env["cuda_python"] = _version("cuda.bindings") or _version("cuda")
    env["tensorrt"] = _version("tensorrt")
    start = time.perf_counter()
    try:
        compiled = load_or_compile(device.arch[0], device.arch[1], cache_dir=os.path.join(ctx["tmp"], "kernels"))
    except Exception as exc:
        if not dry_run:
            raise
        report.progress("NVRTC unavailable in the dry run (%s): emulated kernels only" % exc)
        compiled = CompiledKernels(b"emulated", "cubin", "sm_72", (0, 0))
    env.update(nvrtc="%d.%d" % compiled.nvrtc_version, kernel_target=compiled.target, kernel_kind=compiled.kind)
    ctx["compiled"] = compiled
    ctx["kernels"] = KernelSet(device, compiled.image, compiled.kind)
    report.add(
        "NVRTC compile + module load for %s" % compiled.target,
        True,
        seconds=round(time.perf_counter() - start, 3),
        image_bytes=len(compiled.image),
    )


def _version(module: str) -> Optional[str]:
    try:
        imported = __import__(module, fromlist=["__version__"])
    except Exception:
        return None
    return str(getattr(imported, "__version__", "present"))


def noop_tensorrt(spec: Any) -> Any:
    """A TensorRT 10-API stand-in whose inference does nothing, for machines without TensorRT.

    The predictor's own work (streams, events, pinned staging, shared-memory registration, the
    preprocessing kernels into the engine input buffer, result transfers) is all real around it.
    """
    shapes = {"image": (-1, 3, spec.height, spec.width), "score": (-1,)}

    class Context:
        def set_optimization_profile_async(self, profile: int, stream: int) -> bool:
            return True

        def set_input_shape(self, name: str, shape: Any) -> bool:
            return True

        def set_tensor_address(self, name: str, address: int) -> bool:
            return True

        def execute_async_v3(self, stream_handle: int) -> bool:
            return True

    class Engine:
        num_io_tensors, num_optimization_profiles = 2, 2

        def get_tensor_name(self, i: int) -> str:
            return ["image", "score"][i]

        def get_tensor_mode(self, name: str) -> str:
            return "INPUT" if name == "image" else "OUTPUT"

        def get_tensor_shape(self, name: str) -> Any:
            return shapes[name]

        def get_tensor_dtype(self, name: str) -> str:
            return "FLOAT"

        def get_tensor_profile_shape(self, name: str, profile: int) -> Any:
            return [(b,) + shapes[name][1:] for b in (1, 4, 8)]

        def create_execution_context(self) -> Any:
            return Context()

    module = types.SimpleNamespace(__version__="10.0.0", nptype=lambda dt: np.float32)
    module.TensorIOMode = types.SimpleNamespace(INPUT="INPUT", OUTPUT="OUTPUT")
    module.Logger = type("Logger", (), {"WARNING": 2, "__init__": lambda self, level=2: None})
    module.Runtime = type(
        "Runtime", (), {"__init__": lambda self, logger: None, "deserialize_cuda_engine": lambda self, data: Engine()}
    )
    return module


def write_results(report: Report, out_dir: str) -> List[str]:
    """gpu_check.json and gpu_check.md in `out_dir`, each written to a temp name then renamed."""
    os.makedirs(out_dir, exist_ok=True)
    data = {
        "passed": report.passed,
        "environment": report.environment,
        "steps": report.steps,
        "seconds": round(time.time() - report.started, 1),
    }
    lines = [
        "# GPU path check%s" % (" (CPU dry run: emulated CUDA, timings meaningless)" if report.dry_run else ""),
        "",
        "Result: **%s**" % ("PASS" if report.passed else "FAIL"),
        "",
        "Environment: " + ", ".join("%s %s" % (k, v) for k, v in sorted(report.environment.items())),
        "",
        "| step | result | details |",
        "| --- | --- | --- |",
    ]
    if report.environment.get("cv2") is None:
        lines[3:3] = [
            "",
            "cv2 is not installed here: compared with the kernels' NumPy twin only (CI checks the twin"
            " against cv2 bit for bit); carry an opencv-python-headless wheel to compare with the CPU path.",
        ]
    for step in report.steps:
        details = ", ".join("%s=%s" % (k, _short(v)) for k, v in step.items() if k not in ("name", "ok", "traceback"))
        lines.append("| %s | %s | %s |" % (step["name"], "pass" if step["ok"] else "FAIL", details))
    paths = []
    for name, text in (
        ("gpu_check.json", json.dumps(data, indent=2, sort_keys=True)),
        ("gpu_check.md", "\n".join(lines)),
    ):
        path = os.path.join(out_dir, name)
        with open(path + ".tmp", "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
        os.replace(path + ".tmp", path)
        paths.append(path)
    return paths


def _short(value: Any) -> str:
    if isinstance(value, float):
        return "%.4g" % value
    return str(value)


def check_preprocessing(ctx: Dict[str, Any], report: Report, quick: bool) -> None:
    from edge_runtime.modelpkg.manifest import InputSpec
    from edge_runtime.runtime.gpu.preprocess_cuda import CudaPreprocessor
    from tests.gpu.kernel_reference import preprocess_reference

    device, kernels, rng = ctx["device"], ctx["kernels"], np.random.default_rng(0)
    cases = [CASES[i] for i in (0, 3, 5, 7)] if quick else CASES
    for width, height, kwargs, label in cases:
        kwargs = dict(kwargs)
        dtype = kwargs.pop("dtype", "float32")
        spec = InputSpec(**kwargs)
        padded = rng.integers(0, 256, (height, width + 7, 3), dtype=np.uint8)
        frame = padded[:, :width]  # row pitch 3 * (width + 7): the kernel must honour it
        pre = CudaPreprocessor(kernels, spec, dtype)
        stream = device.stream_create()
        src = device.alloc(padded.nbytes)
        out = device.alloc(2 * pre.item_bytes)
        try:
            device.htod(src, padded, stream)
            plan = pre.enqueue(src, padded.strides[0], width, height, out, 1, stream)
            host = np.empty((2, 3, spec.height, spec.width), dtype=np.float16 if dtype == "float16" else np.float32)
            device.dtoh(host, out, stream)
            device.stream_sync(stream)
        finally:
            pre.close()
            device.free(src)
            device.free(out)
        got = host[1].astype(np.float32)
        twin = preprocess_reference([frame], spec, dtype)[0].astype(np.float32)
        cpu = cpu_preprocess([np.ascontiguousarray(frame)], spec)
        diff_twin = float(np.abs(got - twin).max())
        diff_cpu = float(np.abs(got - cpu[0]).max()) if cpu is not None else None
        ok = diff_twin == 0.0 and (diff_cpu is None or diff_cpu <= 1e-3)
        report.add(
            "preprocess %dx%d -> %dx%d (%s)" % (width, height, spec.width, spec.height, label),
            ok,
            mode=plan.mode,
            dtype=dtype,
            max_diff_vs_kernel_twin=diff_twin,
            max_diff_vs_cpu_cv2=diff_cpu,
        )


def check_segmentation(ctx: Dict[str, Any], report: Report) -> None:
    from edge_runtime.runtime.gpu.postprocess_cuda import CudaSegPostprocessor
    from tests.gpu.kernel_reference import segment_reference

    device, kernels = ctx["device"], ctx["kernels"]
    rng = np.random.default_rng(1)
    scores = rng.random((2, 3, 56, 56)).astype(np.float32)
    post = CudaSegPostprocessor(kernels, 3, (56, 56), "float32")
    stream = device.stream_create()
    ptr = device.alloc(scores.nbytes)
    try:
        device.htod(ptr, scores, stream)
        sizes = [(2592, 1944), (641, 479)]
        for i, (w, h) in enumerate(sizes):
            post.enqueue(0, i, ptr + i * post.item_bytes, w, h, stream)
        device.stream_sync(stream)
        for i, (w, h) in enumerate(sizes):
            class_map, counts = post.result(0, i, w, h)
            want_map, want_counts = segment_reference(scores[i], w, h)
            ok = bool(np.array_equal(class_map, want_map) and np.array_equal(counts, want_counts))
            report.add(
                "segmentation argmax + nearest + counts to %dx%d" % (w, h),
                ok,
                mismatching_pixels=int((class_map != want_map).sum()),
                counts=counts.tolist(),
            )
    finally:
        post.close()
        device.free(ptr)


def check_predictor_zero_copy(ctx: Dict[str, Any], report: Report, frames_per_batch: int = 4) -> None:
    """The real predictor path on shared-memory frames: zero host copies; inline frames: one each.

    Both frame transfers run: "mapped" (the kernel reads the registered segment; Jetson's default) and
    "dma" (one DMA from the registered segment into device memory; the default on discrete GPUs).
    """
    from edge_runtime.modelpkg.manifest import InputSpec
    from edge_runtime.shm import SharedMemorySegment

    spec = InputSpec(224, 224)
    w, h = ctx["frame_size"]
    segment = SharedMemorySegment.create("/edge-gpu-check-%d" % os.getpid(), frames_per_batch * w * h * 3)
    ctx.setdefault("cleanup", []).append(lambda: (segment.close(), segment.unlink()))
    rng = np.random.default_rng(2)
    data = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(frames_per_batch)]
    for i, frame in enumerate(data):
        segment.write(i * frame.nbytes, frame)
    views = [segment.array(i * w * h * 3, (h, w, 3)) for i in range(frames_per_batch)]
    ctx["shm_views"], ctx["inline_frames"] = views, data
    cpu = cpu_preprocess(data, spec)
    for transfer in ("mapped", "dma"):
        predictor = _noop_predictor(ctx, spec, frames_per_batch, transfer)
        ctx.setdefault("predictors", {})[transfer] = predictor
        shm_copies, shm_input = _predict_and_read_input(predictor, views)
        inline_copies, inline_input = _predict_and_read_input(predictor, [d.copy() for d in data])
        diff = float(np.abs(shm_input - cpu).max()) if cpu is not None else None
        ok = shm_copies == [0] * frames_per_batch and inline_copies == [1] * frames_per_batch
        ok = ok and float(np.abs(shm_input - inline_input).max()) == 0.0 and (diff is None or diff <= 1e-3)
        report.add(
            "predictor path (%s): shared-memory frames make zero host copies" % transfer,
            ok,
            shm_copies_per_frame=shm_copies,
            inline_copies_per_frame=inline_copies,
            max_diff_vs_cpu_cv2=diff,
            counter=predictor.copy_counter.snapshot(),
        )


def _noop_predictor(ctx: Dict[str, Any], spec: Any, batch: int, transfer: str) -> Any:
    from edge_runtime.modelpkg.manifest import ModelManifest
    from edge_runtime.runtime.gpu.engine_source import EngineSource
    from edge_runtime.runtime.gpu.tensorrt_predictor import TensorRTPredictor

    plan = os.path.join(ctx["tmp"], "noop.plan")
    with open(plan, "wb") as fh:
        fh.write(b"noop")
    manifest = ModelManifest(name="check", task="classification", input=spec, threshold=0.5)
    predictor = TensorRTPredictor(
        manifest,
        EngineSource(engine_path=plan),
        batch,
        device=ctx["device"],
        trt=ctx.get("tensorrt_stand_in") or noop_tensorrt(spec),
        compiler=lambda major, minor: ctx["compiled"],
        transfer=transfer,
    )
    try:
        predictor.load()
    except BaseException:
        predictor.close()
        raise
    return predictor


def _predict_and_read_input(predictor: Any, frames: List[np.ndarray]) -> Any:
    pending = predictor.submit(frames)
    slot = pending.slot
    predictor.collect(pending)
    spec = predictor.manifest.input
    host = np.empty((len(frames), 3, spec.height, spec.width), dtype=np.float32)
    predictor.device.dtoh(host, slot.buffers["image"], slot.stream)
    predictor.device.stream_sync(slot.stream)
    return list(predictor.copy_counter.last_batch), host


def measure_throughput(ctx: Dict[str, Any], report: Report, seconds: float) -> None:
    from edge_runtime.modelpkg.manifest import InputSpec

    frames, views, predictors = ctx["inline_frames"], ctx["shm_views"], ctx["predictors"]
    mapped = [predictors["mapped"]._registry.locate(v) for v in views]
    hosts = [int(v.ctypes.data) for v in views]
    for interpolation in ("area", "linear"):
        spec = InputSpec(224, 224, interpolation=interpolation)
        numbers = measure(ctx["device"], ctx["kernels"], frames, spec, seconds, mapped, hosts)
        if interpolation == "area":  # the predictors' model uses area: their whole path on shm frames
            for transfer, predictor in sorted(predictors.items()):
                key = "gpu_predictor_%s_frames_per_s" % transfer
                numbers[key] = rate(lambda p=predictor: p.predict(views), len(views), seconds)
        cpu = numbers["cpu_frames_per_s"]
        paths = [v for k, v in numbers.items() if k.startswith("gpu_") and k.endswith("_frames_per_s")]
        shm_paths = [v for k, v in numbers.items() if k in ("gpu_mapped_frames_per_s", "gpu_dma_frames_per_s")]
        numbers["goal_10x_met_shm_path"] = bool(cpu and shm_paths and max(shm_paths) / cpu >= 10.0)
        numbers["best_speedup"] = max(paths) / cpu if cpu and paths else None
        h, w = frames[0].shape[:2]
        report.add(
            "throughput %dx%d -> 224x224 %s, batch %d" % (w, h, interpolation, len(frames)),
            True,
            measurement=True,
            **numbers,
        )


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.environ.get("OUT") or os.path.join(ROOT, "benchmarks", "results"))
    parser.add_argument("--cpu-dry-run", action="store_true", help="run every step on the NumPy CUDA emulation")
    parser.add_argument("--quick", action="store_true", help="fewer frame sizes and shorter timings")
    parser.add_argument("--seconds", type=float, default=None, help="time per throughput measurement")
    parser.add_argument("--frame-size", default="%dx%d" % FIVE_MP, help="throughput/zero-copy frame size, WxH")
    args = parser.parse_args(argv)
    seconds = args.seconds if args.seconds is not None else (0.0 if args.cpu_dry_run else 3.0)
    report = Report(dry_run=args.cpu_dry_run)
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        width, height = (int(v) for v in args.frame_size.lower().split("x"))
        ctx: Dict[str, Any] = {"tmp": tmp, "frame_size": (width, height)}
        try:
            open_layer(ctx, report, args.cpu_dry_run)
            steps = [
                ("preprocessing", lambda: check_preprocessing(ctx, report, args.quick)),
                ("segmentation", lambda: check_segmentation(ctx, report)),
                ("zero copy", lambda: check_predictor_zero_copy(ctx, report)),
                ("throughput", lambda: measure_throughput(ctx, report, seconds)),
            ]
            for name, step in steps:
                report.run(name, step)
        finally:
            for predictor in ctx.get("predictors", {}).values():
                predictor.close()
            for cleanup in ctx.get("cleanup", []):
                cleanup()
    paths = write_results(report, args.out)
    report.progress("wrote %s" % ", ".join(paths))
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
