"""The OpenVINO half of a CPU build: the ONNX converted to OpenVINO IR, measured against the ONNX.

A CPU build carries two engines' models: `model_artifact` for ONNX Runtime (always, the fallback) and,
when `openvino` is installed on the build host, `model.openvino.xml/.bin` (IR keeps full f32 weights:
`compress_to_fp16=False`). The agent serves the IR on OpenVINO where the device has the package.

The IR is measured here on the package's own images (calibration.npz, preprocessed as serving does)
at the precision the device will use, against the ONNX graph as written on ONNX Runtime:
- f32 (default): must match within `F32_TOLERANCE` on every score; otherwise the IR is left out of
  the build (the record says why) and the device serves ONNX Runtime.
- bf16 (only when CompilerOptions ask for "precision": "bf16"): the measured change is recorded, as
  for INT8. The target must have bf16 instructions (mcpu/mattr), checked before anything is built.
The record names the precision OpenVINO actually used, as it reports it (a CPU without bf16 units
runs f32 whatever the hint says).
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from edge_runtime.compiler.accuracy import compare_outputs, run_model
from edge_runtime.errors import CompileError
from edge_runtime.modelpkg.manifest import INPUT_NAME, SCORE_OUTPUT, SEG_OUTPUT, ModelManifest
from edge_runtime.progress import ProgressSink
from edge_runtime.runtime.build.calibration import preprocessed_batches
from edge_runtime.runtime.build.cpu_features import CpuTarget
from edge_runtime.runtime.build.cpu_models import ARM64, X86_64

F32_TOLERANCE = 1e-4
IR_NAME, WEIGHTS_NAME = "model.openvino.xml", "model.openvino.bin"
BF16_FEATURES = {X86_64: ("avx512_bf16", "amx_bf16"), ARM64: ("bf16", "svebf16")}
INSTALL = "pip install 'edge-runtime[openvino]'"


def openvino_precision(build_precision: str) -> Optional[str]:
    """The IR's INFERENCE_PRECISION_HINT for a build precision; None: no IR (INT8 stays on ONNX Runtime)."""
    return {"fp32": "f32", "bf16": "bf16"}.get(build_precision)


def check_bf16_target(cpu: CpuTarget) -> None:
    """precision bf16 needs a target whose features include bf16 arithmetic; name what would add it."""
    wanted = BF16_FEATURES.get(cpu.arch, ())
    if not cpu.features.intersection(wanted):
        hint = "e.g. mcpu sapphirerapids or znver4, or mattr +avx512bf16" if cpu.arch == X86_64 else \
            "e.g. mcpu neoverse-v1 or mattr +bf16"
        raise CompileError("precision bf16 needs a target CPU with %s, but mcpu %s%s has none; %s"
                           % (" or ".join(wanted), cpu.mcpu, " with mattr %s" % list(cpu.mattr) if cpu.mattr else "",
                              hint))


def build_openvino(source_model: str, out_dir: str, manifest: ModelManifest, precision: str,
                   images: Optional[np.ndarray], progress: ProgressSink) -> Tuple[Dict[str, Any], List[str]]:
    """(the build's `openvino` record, files written); a record without `model` means not built."""
    try:
        import openvino as ov
    except ImportError:
        return {"status": "not built", "reason": "openvino is not installed on the build host (%s)" % INSTALL}, []
    progress("converting to OpenVINO IR (OpenVINO %s, f32 weights)" % ov.__version__.split("-")[0])
    xml = os.path.join(out_dir, IR_NAME)
    ov.save_model(ov.convert_model(source_model), xml, compress_to_fp16=False)
    files = [IR_NAME, WEIGHTS_NAME]
    record: Dict[str, Any] = {"status": "built", "model": IR_NAME, "weights": WEIGHTS_NAME, "precision": precision,
                              "converted_with": "openvino %s" % ov.__version__.split("-")[0]}
    if images is None:
        record["accuracy"] = {"measured": False, "reason": "the package has no calibration.npz to measure on"}
        return record, files
    progress("measuring OpenVINO at %s against the ONNX on %d images" % (precision, len(images)))
    outputs, used = run_openvino(xml, images, manifest, precision)
    accuracy = compare_outputs(run_model(source_model, images, manifest, reference=True), outputs,
                               manifest.threshold)
    accuracy.update(measured=True, precision_used=used, reference="ONNX model as written, on ONNX Runtime",
                    data="calibration.npz images, preprocessed as serving does")
    record["accuracy"] = accuracy
    if precision == "f32" and accuracy["score_max_abs_diff"] > F32_TOLERANCE:
        for name in files:
            os.remove(os.path.join(out_dir, name))
        return {"status": "left out", "precision": precision, "accuracy": accuracy,
                "reason": "OpenVINO f32 scores differ from the ONNX by up to %.2g (> %.0e); ONNX Runtime serves"
                          % (accuracy["score_max_abs_diff"], F32_TOLERANCE)}, []
    return record, files


def run_openvino(model_path: str, images: np.ndarray, manifest: ModelManifest, precision: str,
                 batch_size: int = 8) -> Tuple[Dict[str, np.ndarray], str]:
    """Outputs for every image on OpenVINO's CPU plugin at `precision`, and the precision it reports using."""
    import openvino as ov

    compiled = ov.Core().compile_model(model_path, "CPU", {"INFERENCE_PRECISION_HINT": precision})
    names = [o.get_any_name() for o in compiled.outputs if o.get_any_name() in (SCORE_OUTPUT, SEG_OUTPUT)]
    request = compiled.create_infer_request()
    collected: Dict[str, List[np.ndarray]] = {n: [] for n in names}
    for batch in preprocessed_batches(images, manifest.input, batch_size):
        results = request.infer({INPUT_NAME: batch})
        for name in names:
            collected[name].append(np.array(results[name]))
    return {n: np.concatenate(v) for n, v in collected.items()}, precision_in_use(compiled)


def precision_in_use(compiled: Any) -> str:
    """The inference precision a compiled model reports (an ov.Type: 'f32', 'bf16')."""
    used = compiled.get_property("INFERENCE_PRECISION_HINT")
    return str(used.get_type_name()) if hasattr(used, "get_type_name") else str(used)
