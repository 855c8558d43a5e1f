"""Which engine runs a model on the CPU, and why: OpenVINO for builds that carry its model, else ONNX Runtime.

    models.cpu_engine = auto (default)   a compiled build's OpenVINO model when `openvino` is installed,
                                         compiles it here and MEASURES faster than ONNX Runtime on the
                                         build's ONNX (both timed briefly at load at batch 1 and the
                                         max batch, on the package's input shape; the figures go to
                                         the note); otherwise ONNX Runtime on the build's ONNX (the
                                         reason goes to DescribeModel and the metrics).
                                         A plain package runs on ONNX Runtime, as trained.
    models.cpu_engine = openvino         OpenVINO or fail to start (a plain package's ONNX at f32)
    models.cpu_engine = onnxruntime      ONNX Runtime always

The predictor's `backend_note` starts with the engine ("openvino 2026.4.1 ...") when OpenVINO serves,
with "OpenVINO not used: ..." when a build's OpenVINO model was passed over, and is plain "onnxruntime"
for a plain package (whose `backend_reason` alone is empty: the default path needs no explanation).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import time
from typing import Any, Callable, List, Optional, Sequence, Tuple

import numpy as np

from edge_runtime.errors import FailedPrecondition
from edge_runtime.runtime.cpu_predictor import CpuPredictor
from edge_runtime.runtime.loader import LoadedPackage
from edge_runtime.runtime.openvino_engine import (
    OpenVinoEngine,
    OpenVinoModel,
    OpenVinoSettings,
    openvino_settings,
    openvino_version,
)
from edge_runtime.runtime.ort_engine import OrtEngine
from edge_runtime.runtime.types import Engine

log = logging.getLogger(__name__)

CPU_ENGINES = ("auto", "openvino", "onnxruntime")
INSTALL = "pip install 'edge-runtime[openvino]'"


def openvino_source(package: LoadedPackage, wanted: str) -> Tuple[Optional[str], str, str]:
    """(model file for OpenVINO or None, its precision, why not when None) for `models.cpu_engine`."""
    record = package.build.cpu.openvino if package.build is not None and package.build.cpu is not None else {}
    if wanted == "onnxruntime":
        return None, "", "models.cpu_engine is onnxruntime"
    if package.openvino_model_path:
        return package.openvino_model_path, str(record.get("precision", "f32")), ""
    if wanted == "openvino" and package.build is None:
        return package.model_path, "f32", ""  # a plain package's ONNX, read by OpenVINO directly
    if package.build is None:
        return None, "", "a plain package runs on onnxruntime as trained; compile it for OpenVINO"
    if record:
        return None, "", "the build has no OpenVINO model (%s)" % record.get("reason", record.get("status"))
    return None, "", "the build has no OpenVINO model (compiled without openvino, or INT8)"


def cpu_predictor_for(package: LoadedPackage, onnx_path: str, options: Any, threads: int,
                      cpus: int, instances_note: str = "") -> CpuPredictor:
    """The CPU predictor for `package` (options: factory.PredictorOptions), carrying its note."""
    wanted = getattr(options, "cpu_engine", "auto")
    source, precision, why_not = openvino_source(package, wanted)
    if source is not None:
        version = openvino_version()
        if version is None:
            why_not = "openvino is not installed (%s)" % INSTALL
        else:
            settings = openvino_settings(precision, options.instances, threads, cpus, options.max_batch_size)
            try:
                engines = _openvino_engines(source, settings, options.instances)
            except Exception as exc:  # OpenVINO could not read or compile it here: serve the ONNX
                log.warning("OpenVINO failed on %s: %s", source, exc)
                why_not = "OpenVINO %s failed to compile the model: %s" % (version, exc)
            else:
                note = "openvino %s, %s" % (version, settings.describe())
                if wanted != "auto":
                    note += "; onnxruntime is the fallback"
                    return CpuPredictor(package.manifest, engines, backend_note=note, backend_reason=note)
                cache = getattr(options, "choice_cache", "")
                key = choice_key(source, onnx_path, version, options, threads, cpus) if cache else ""
                choice = cached_choice(cache, key)
                ort_engines = [] if choice is not None and choice.openvino_wins else _ort_engines(
                    onnx_path, options, threads)
                if choice is None:
                    choice = measured_choice(package, engines, ort_engines, options.max_batch_size)
                    store_choice(cache, key, choice)
                if choice.openvino_wins:
                    _close(ort_engines)
                    note += "; %s; onnxruntime is the fallback" % choice.describe("openvino", "onnxruntime")
                    return CpuPredictor(package.manifest, engines, backend_note=note, backend_reason=note)
                _close(engines)
                note = "onnxruntime: %s; openvino %s is the fallback%s" % (
                    choice.describe("onnxruntime", "openvino"), version, instances_note)
                return CpuPredictor(package.manifest, ort_engines, backend_note=note, backend_reason=note)
    if wanted == "openvino":
        raise FailedPrecondition("models.cpu_engine is openvino, but %s" % why_not)
    ort = _ort_engines(onnx_path, options, threads)
    plain = package.build is None and wanted == "auto"
    note = ("onnxruntime" if plain else "OpenVINO not used: %s" % why_not) + instances_note
    return CpuPredictor(package.manifest, ort, backend_note=note, backend_reason="" if plain else note)


def _openvino_engines(source: str, settings: OpenVinoSettings, instances: int) -> List[Engine]:
    model = OpenVinoModel(source, settings)
    model.compiled()  # compile now, so a failure can still fall back to ONNX Runtime
    return [OpenVinoEngine(model) for _ in range(max(1, instances))]


def _ort_engines(onnx_path: str, options: Any, threads: int) -> List[Engine]:
    return [OrtEngine(onnx_path, options.max_batch_size, threads) for _ in range(max(1, options.instances))]


def _close(engines: Sequence[Engine]) -> None:
    for engine in engines:
        try:
            engine.close()
        except Exception:  # pragma: no cover - closing an engine that is not used
            log.debug("closing an unused engine failed", exc_info=True)


# How the load-time comparison runs: warm runs, then timed runs, per batch size, on one instance of each.
MEASURE_WARM_RUNS = 2
MEASURE_TIMED_RUNS = 5


def time_engine(engine: Engine, batch: np.ndarray) -> float:
    """Median ms per image of `engine` on `batch` (the seam tests replace to fix the figures)."""
    for _ in range(MEASURE_WARM_RUNS):
        engine.infer(batch)
    runs = []
    for _ in range(MEASURE_TIMED_RUNS):
        start = time.perf_counter()
        engine.infer(batch)
        runs.append(time.perf_counter() - start)
    return 1000.0 * sorted(runs)[len(runs) // 2] / len(batch)


class MeasuredChoice:
    """ms per image of OpenVINO and ONNX Runtime at batch 1 and the max batch; the max batch decides."""

    def __init__(self, max_batch: int, openvino_ms: Sequence[float], onnxruntime_ms: Sequence[float]) -> None:
        self.max_batch = max_batch
        self.ms = {"openvino": list(openvino_ms), "onnxruntime": list(onnxruntime_ms)}

    @property
    def openvino_wins(self) -> bool:
        return self.ms["openvino"][-1] < self.ms["onnxruntime"][-1]

    def describe(self, chosen: str, other: str) -> str:
        a, b = self.ms[chosen], self.ms[other]
        text = "measured %.2f ms/image vs %s %.2f ms/image at batch %d" % (a[-1], other, b[-1], self.max_batch)
        if self.max_batch > 1:
            text += " (batch 1: %.2f vs %.2f)" % (a[0], b[0])
        if self.cached:
            text += ", cached from an earlier load"
        return text

    cached = False


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def choice_key(source: str, onnx_path: str, version: str, options: Any, threads: int, cpus: int) -> str:
    """What the measured choice depends on: the model files' bytes, the CPU model and count, the engine
    versions, and the instances/threads/batch settings."""
    digest = hashlib.sha256()
    for path in (source, os.path.splitext(source)[0] + ".bin", onnx_path):
        try:
            with open(path, "rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
        except OSError:
            digest.update(b"-")
    try:
        import onnxruntime

        ort_version = str(onnxruntime.__version__)
    except Exception:  # pragma: no cover - onnxruntime is a core dependency
        ort_version = "?"
    settings = [_cpu_model(), cpus, version, ort_version, options.instances, threads, options.max_batch_size]
    digest.update(json.dumps(settings).encode("utf-8"))
    return digest.hexdigest()


def cached_choice(path: str, key: str) -> Optional[MeasuredChoice]:
    """The choice stored under `key` in the JSON file at `path`; None when absent, unreadable or corrupt."""
    if not path or not key:
        return None
    try:
        with open(path) as handle:
            entry = json.load(handle)[key]
        choice = MeasuredChoice(int(entry["max_batch"]), [float(v) for v in entry["openvino"]],
                                [float(v) for v in entry["onnxruntime"]])
        if not choice.ms["openvino"] or len(choice.ms["openvino"]) != len(choice.ms["onnxruntime"]):
            return None
    except FileNotFoundError:
        return None
    except Exception as exc:  # corrupt or foreign: measure again
        log.info("cpu_engine auto: ignoring the choice cache %s (%s)", path, exc)
        return None
    choice.cached = True
    return choice


def store_choice(path: str, key: str, choice: MeasuredChoice) -> None:
    """Add `choice` under `key`; a cache that cannot be written is logged, never fails the load."""
    if not path or not key:
        return
    try:
        try:
            with open(path) as handle:
                data = json.load(handle)
            if not isinstance(data, dict):
                data = {}
        except (OSError, ValueError):
            data = {}
        data[key] = {"max_batch": choice.max_batch, "openvino": choice.ms["openvino"],
                     "onnxruntime": choice.ms["onnxruntime"]}
        tmp = "%s.%d.tmp" % (path, os.getpid())
        with open(tmp, "w") as handle:
            json.dump(data, handle)
        os.replace(tmp, path)
    except Exception as exc:
        log.warning("cpu_engine auto: could not write the choice cache %s (%s)", path, exc)


def measured_choice(package: LoadedPackage, openvino: Sequence[Engine], onnxruntime: Sequence[Engine],
                    max_batch: int, timer: Optional[Callable[[Engine, np.ndarray], float]] = None) -> MeasuredChoice:
    """Time one instance of each engine at batch 1 and `max_batch` on the package's input shape."""
    timer = timer or time_engine
    spec = package.manifest.input
    sizes = sorted({1, max(1, max_batch)})
    figures = {}
    for name, engines in (("openvino", openvino), ("onnxruntime", onnxruntime)):
        engine = engines[0]
        engine.load()
        figures[name] = [timer(engine, np.zeros((n, 3, spec.height, spec.width), dtype=np.float32)) for n in sizes]
    choice = MeasuredChoice(sizes[-1], figures["openvino"], figures["onnxruntime"])
    log.info("cpu_engine auto: openvino %s ms/image, onnxruntime %s ms/image at batch %s",
             figures["openvino"], figures["onnxruntime"], sizes)
    return choice
