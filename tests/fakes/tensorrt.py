"""One fake `tensorrt` module, both halves: the builder (ONNX parser, builder config, INT8 calibration)
and the runtime (deserialise, execution contexts, bindings or tensor API), in the flavour of TensorRT
8.5 or 10. A fake because TensorRT cannot exist here (no NVIDIA GPU, no JetPack); every call is
recorded in `module.calls`, and what real TensorRT would refuse is refused.
"""

from __future__ import annotations

import types
from typing import Any, Optional, Sequence, Tuple

from tests.fakes.tensorrt_builder import HostBuffers, add_builder
from tests.fakes.tensorrt_runtime import FLOAT, HALF, EngineSpec, add_runtime, reference_outputs

__all__ = ["FLOAT", "HALF", "EngineSpec", "HostBuffers", "make_module", "reference_outputs"]


def make_module(version: str = "8.5.2.2", input_shape: Tuple[int, ...] = (-1, 3, 64, 64), input_name: str = "image",
                parse_errors: Sequence[str] = (), build_fails: bool = False, engine: Optional[EngineSpec] = None,
                device: Any = None) -> Any:
    """A fresh fake `tensorrt`: the builder half always, the runtime half serving `engine` on `device`."""
    trt = types.ModuleType("tensorrt")
    trt.__version__ = version
    trt.calls = []
    add_builder(trt, version, input_shape, input_name, parse_errors, build_fails)
    add_runtime(trt, version, engine or EngineSpec(), device)
    return trt
