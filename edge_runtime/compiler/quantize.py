"""INT8 static quantisation with ONNX Runtime (QDQ format), choices following the target's CPU features.

- x86 with VNNI (avx512_vnni, avx_vnni or amx_int8): U8 activations, S8 per-channel weights, full
  8-bit range: the VNNI dot products accumulate in 32 bits and do not saturate.
- x86 without VNNI (AVX2 / AVX-512): the same, but `reduce_range=True` (7-bit weights), which ONNX
  Runtime advises for non-VNNI machines: their u8s8 kernels (VPMADDUBSW) sum pairs into 16 bits
  and can saturate.
- ARM64: U8/S8 per-channel without reduce_range; the NEON kernels widen before accumulating, and
  `asimddp` (SDOT/UDOT) only makes them faster.

The classifier head (every node from the last Conv/Gemm/MatMul to each output) stays in float so
the score keeps its resolution near the threshold. Calibration uses the package's images through the
serving preprocessing. The QDQ model is kept portable: ONNX Runtime fuses Q/DQ pairs into integer
kernels when it loads the model on the device.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import asdict, dataclass
from typing import Any, Dict, Iterator, List, Optional

import numpy as np

from edge_runtime.errors import require
from edge_runtime.modelpkg.manifest import INPUT_NAME, InputSpec
from edge_runtime.runtime.build.calibration import preprocessed_batches
from edge_runtime.runtime.build.cpu_features import CpuTarget
from edge_runtime.runtime.build.cpu_models import X86_64

_VNNI = frozenset(("avx512_vnni", "avx_vnni", "amx_int8"))
_WEIGHT_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul")


@dataclass(frozen=True)
class Int8Choices:
    quant_format: str = "QDQ"
    activation_type: str = "QUInt8"
    weight_type: str = "QInt8"
    per_channel: bool = True
    reduce_range: bool = False
    calibrate_method: str = "MinMax"
    reason: str = ""

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


_METHODS = {"minmax": "MinMax", "percentile": "Percentile"}


def int8_choices(cpu: CpuTarget, calibration_method: str = "minmax") -> Int8Choices:
    """Quantisation settings for the target CPU's INT8 kernels."""
    method = _METHODS[calibration_method]
    if cpu.arch == X86_64:
        vnni = sorted(cpu.features & _VNNI)
        if vnni:
            return Int8Choices(calibrate_method=method,
                               reason="target has %s: 8-bit weights, no saturation" % ", ".join(vnni))
        return Int8Choices(reduce_range=True, calibrate_method=method,
                           reason="target has no VNNI: 7-bit weights (reduce_range) avoid u8s8 saturation")
    if "asimddp" in cpu.features:
        return Int8Choices(calibrate_method=method, reason="target has asimddp (SDOT/UDOT): 8-bit weights")
    return Int8Choices(calibrate_method=method, reason="target has no asimddp: widening NEON kernels, 8-bit weights")


def head_nodes(model: Any) -> List[str]:
    """Names of the nodes between each graph output and the last weight layer before it (inclusive)."""
    producer = {out: node for node in model.graph.node for out in node.output}
    excluded: List[str] = []
    seen = set()  # type: set
    todo = [o.name for o in model.graph.output]
    while todo:
        node = producer.get(todo.pop())
        if node is None or node.name in seen:
            continue
        seen.add(node.name)
        excluded.append(node.name)
        if node.op_type not in _WEIGHT_OPS:
            todo.extend(node.input)
    return excluded


class _Reader:
    """onnxruntime.quantization.CalibrationDataReader over preprocessed calibration batches."""

    def __init__(self, images: np.ndarray, spec: InputSpec, batch_size: int) -> None:
        self._batches: Iterator[np.ndarray] = preprocessed_batches(images, spec, batch_size)

    def get_next(self) -> Optional[Dict[str, np.ndarray]]:
        batch = next(self._batches, None)
        return None if batch is None else {INPUT_NAME: batch}

    def rewind(self) -> None:  # part of the reader interface; one pass is all MinMax needs
        pass


def _named_copy(src: str, dst: str) -> Any:
    """Shape-inferred, pre-optimised copy of the model with every node named (so exclusions match)."""
    onnx = require("onnx", "compile")
    from onnxruntime.quantization.shape_inference import quant_pre_process

    quant_pre_process(src, dst, skip_symbolic_shape=False)
    model = onnx.load(dst)
    for i, node in enumerate(model.graph.node):
        if not node.name:
            node.name = "%s_%d" % (node.op_type, i)
    onnx.save(model, dst)
    return model


def quantize_int8(src: str, dst: str, images: np.ndarray, spec: InputSpec, choices: Int8Choices,
                  batch_size: int = 8) -> Dict[str, Any]:
    """Write the INT8 QDQ model to `dst`; return what was done (for edge-build.json)."""
    require("onnxruntime", "compile")
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    reader_class = type("CalibrationReader", (_Reader, CalibrationDataReader), {})
    with tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.abspath(dst))) as work:
        prepared = os.path.join(work, "prepared.onnx")
        model = _named_copy(src, prepared)
        excluded = head_nodes(model)
        quantize_static(
            prepared, dst, reader_class(images, spec, batch_size),
            quant_format=QuantFormat[choices.quant_format],
            activation_type=QuantType[choices.activation_type], weight_type=QuantType[choices.weight_type],
            per_channel=choices.per_channel, reduce_range=choices.reduce_range,
            calibrate_method=CalibrationMethod[choices.calibrate_method], nodes_to_exclude=excluded,
            extra_options={"ActivationSymmetric": False, "WeightSymmetric": True},
        )
    out = choices.to_dict()
    out.update(calibration_images=int(len(images)), float_head_nodes=excluded)
    return out
