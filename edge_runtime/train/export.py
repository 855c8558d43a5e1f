"""Export a trained network to ONNX under the package contract, and check it against torch.

Opset and IR version are set explicitly (<= 18 and <= 10) because JetPack 5's TensorRT and ONNX
Runtime refuse newer files; onnx 1.23 would otherwise write IR 11. The legacy TorchScript exporter
(dynamo=False) is used: it writes exactly the requested opset.
"""

from __future__ import annotations

import warnings
from typing import Dict, List

import numpy as np
import torch

from edge_runtime.errors import ModelPackageError, require
from edge_runtime.modelpkg.manifest import INPUT_NAME, SCORE_OUTPUT, SEG_OUTPUT

OPSET = 17
MAX_OPSET = 18
MAX_IR_VERSION = 10


def output_names(task: str) -> List[str]:
    return [SCORE_OUTPUT, SEG_OUTPUT] if task == "segmentation" else [SCORE_OUTPUT]


def export_onnx(net: torch.nn.Module, path: str, task: str, height: int, width: int) -> None:
    """Write `net` (image -> score [, seg]) to `path` with a dynamic batch axis; then cap the IR version."""
    onnx = require("onnx", "train")
    names = output_names(task)
    dummy = torch.zeros(2, 3, height, width)
    axes: Dict[str, Dict[int, str]] = {name: {0: "batch"} for name in [INPUT_NAME] + names}
    net.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation and constant-folding chatter
        torch.onnx.export(net, (dummy,), path, input_names=[INPUT_NAME], output_names=names,
                          dynamic_axes=axes, opset_version=OPSET, dynamo=False, do_constant_folding=True)
    model = onnx.load(path)
    if model.ir_version > MAX_IR_VERSION:
        model.ir_version = MAX_IR_VERSION
        onnx.save(model, path)
    check_onnx_limits(path)


def check_onnx_limits(path: str) -> None:
    """Refuse a file that JetPack 5's runtimes could not load."""
    onnx = require("onnx", "train")
    model = onnx.load(path)
    onnx.checker.check_model(model)
    opsets = {o.domain or "ai.onnx": o.version for o in model.opset_import}
    if model.ir_version > MAX_IR_VERSION or opsets.get("ai.onnx", 0) > MAX_OPSET:
        raise ModelPackageError("exported ONNX has IR %d / opset %s; the limit is IR %d / opset %d"
                                % (model.ir_version, opsets, MAX_IR_VERSION, MAX_OPSET))


def onnx_outputs(path: str, batch: np.ndarray) -> Dict[str, np.ndarray]:
    ort = require("onnxruntime", "train")
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, {INPUT_NAME: batch.astype(np.float32)})))


@torch.no_grad()
def torch_outputs(net: torch.nn.Module, batch: np.ndarray, task: str) -> Dict[str, np.ndarray]:
    out = net.eval()(torch.from_numpy(batch.astype(np.float32)))
    values = out if isinstance(out, (list, tuple)) else [out]
    return {name: v.numpy() for name, v in zip(output_names(task), values)}


def verify_onnx(net: torch.nn.Module, path: str, batch: np.ndarray, task: str, atol: float = 1e-4) -> float:
    """Largest absolute difference of every output between ONNX Runtime and torch; raises above `atol`."""
    expected = torch_outputs(net, batch, task)
    actual = onnx_outputs(path, batch)
    worst = 0.0
    for name, value in expected.items():
        if actual[name].shape != value.shape:
            raise ModelPackageError("ONNX output %s has shape %s, torch %s" % (name, actual[name].shape, value.shape))
        worst = max(worst, float(np.abs(actual[name] - value).max()))
    if worst > atol:
        raise ModelPackageError("ONNX and torch outputs differ by %.2e (allowed %.0e)" % (worst, atol))
    return worst
