"""Which engine runs a model on the CPU, and why: OpenVINO for builds that carry its model, else ONNX Runtime.

    models.cpu_engine = auto (default)   a compiled build's OpenVINO model when `openvino` is installed
                                         and compiles it here; otherwise ONNX Runtime on the build's
                                         ONNX (the reason goes to DescribeModel and the metrics).
                                         A plain package runs on ONNX Runtime, as trained.
    models.cpu_engine = openvino         OpenVINO or fail to start (a plain package's ONNX at f32)
    models.cpu_engine = onnxruntime      ONNX Runtime always

The predictor's `backend_note` starts with the engine ("openvino 2026.4.1 ...") when OpenVINO serves,
with "OpenVINO not used: ..." when a build's OpenVINO model was passed over, and is plain "onnxruntime"
for a plain package (whose `backend_reason` alone is empty: the default path needs no explanation).
"""

from __future__ import annotations

import logging
from typing import Any, List, Optional, Tuple

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
                note = "openvino %s, %s; onnxruntime is the fallback" % (version, settings.describe())
                return CpuPredictor(package.manifest, engines, backend_note=note, backend_reason=note)
    if wanted == "openvino":
        raise FailedPrecondition("models.cpu_engine is openvino, but %s" % why_not)
    count = max(1, options.instances)
    ort: List[Engine] = [OrtEngine(onnx_path, options.max_batch_size, threads) for _ in range(count)]
    plain = package.build is None and wanted == "auto"
    note = ("onnxruntime" if plain else "OpenVINO not used: %s" % why_not) + instances_note
    return CpuPredictor(package.manifest, ort, backend_note=note, backend_reason="" if plain else note)


def _openvino_engines(source: str, settings: OpenVinoSettings, instances: int) -> List[Engine]:
    model = OpenVinoModel(source, settings)
    model.compiled()  # compile now, so a failure can still fall back to ONNX Runtime
    return [OpenVinoEngine(model) for _ in range(max(1, instances))]
