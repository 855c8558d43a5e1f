"""Small real ONNX models for the device-side tests, built with `onnx.helper` (no torch anywhere).

Opset 17, IR version 8, a dynamic batch `N`, input `image` float32 [N, 3, H, W] as the package
contract says. Two families:

    tiny_net       the agent/client tests' net, input 64x64:
                   `score` = sigmoid(4 * mean of the normalised red channel);
                   segmentation adds `seg` (N, 3, 16, 16) = softmax of [0, 4*red, 4*green]
                   pooled 4x4, so red areas are class 1 and green areas class 2.
    conv_net       a seeded random-weight convolutional net (3x3 convolutions, ReLU, pooling,
                   a linear head; segmentation adds a 1x1 class head at 1/4 resolution): real
                   convolution kernels, so running it on two architectures compares something.

`build_package` writes either as a model package (model.onnx + edge-model.json).
"""

from __future__ import annotations

import os
from typing import List, Sequence, Tuple

import numpy as np

from edge_runtime.modelpkg.manifest import ClassInfo, InputSpec, ModelManifest, write_manifest

OPSET = 17
IR_VERSION = 8
CLASSES = (
    ClassInfo(0, "background", "#FFFFFF"),
    ClassInfo(1, "scratch", "#23A436"),
    ClassInfo(2, "dent", "#14A3B3"),
)


def _tensor(name: str, array: np.ndarray):  # type: ignore[no-untyped-def]
    from onnx import numpy_helper

    return numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32), name)


def _save(path: str, nodes: List, inits: List, size: Tuple[int, int], seg_shape: Sequence[int]) -> None:
    import onnx
    from onnx import TensorProto, helper

    height, width = size
    inputs = [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, height, width])]
    outputs = [helper.make_tensor_value_info("score", TensorProto.FLOAT, ["N"])]
    if seg_shape:
        outputs.append(helper.make_tensor_value_info("seg", TensorProto.FLOAT, ["N"] + list(seg_shape)))
    graph = helper.make_graph(nodes, "edge-runtime-test-net", inputs, outputs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="tests.tiny_models")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path)


def tiny_net_onnx(path: str, with_seg: bool) -> None:
    """The 64x64 red/green net described above."""
    from onnx import TensorProto, helper

    weight = np.zeros((3, 3, 1, 1), dtype=np.float32)
    weight[1, 0] = 4.0  # channel 1: 4 * red; channel 2: 4 * green; channel 0 stays 0 (background)
    weight[2, 1] = 4.0
    inits = [_tensor("pick.weight", weight), helper.make_tensor("red_index", TensorProto.INT64, [], [1])]
    nodes = [
        helper.make_node("Conv", ["image", "pick.weight"], ["logits"], kernel_shape=[1, 1]),
        helper.make_node("Gather", ["logits", "red_index"], ["red"], axis=1),
        helper.make_node("ReduceMean", ["red"], ["red_mean"], axes=[1, 2], keepdims=0),
        helper.make_node("Sigmoid", ["red_mean"], ["score"]),
    ]
    if with_seg:
        nodes += [
            helper.make_node("AveragePool", ["logits"], ["pooled"], kernel_shape=[4, 4], strides=[4, 4]),
            helper.make_node("Softmax", ["pooled"], ["seg"], axis=1),
        ]
    _save(path, nodes, inits, (64, 64), (3, 16, 16) if with_seg else ())


def conv_net_onnx(path: str, with_seg: bool, size: int = 96, seed: int = 0) -> None:
    """Random (seeded) 3x3 convolutions 3->8->16 at stride 2, ReLU; score = sigmoid(linear(mean));
    `seg` = softmax of a 1x1 convolution to 3 classes at 1/4 of the input size."""
    from onnx import TensorProto, helper

    rng = np.random.default_rng(seed)
    conv1, conv2 = rng.normal(0, 0.4, (8, 3, 3, 3)), rng.normal(0, 0.25, (16, 8, 3, 3))
    inits = [
        _tensor("c1.w", conv1), _tensor("c1.b", rng.normal(0, 0.1, 8)),
        _tensor("c2.w", conv2), _tensor("c2.b", rng.normal(0, 0.1, 16)),
        _tensor("fc.w", rng.normal(0, 0.075, (16, 1))), _tensor("fc.b", [-1.0]),  # scores spread around 0.5
        helper.make_tensor("flat", TensorProto.INT64, [1], [-1]),
    ]
    seg_w, seg_b = rng.normal(0, 0.8, (3, 16, 1, 1)), np.array([1.0, -0.5, -0.5])
    conv = {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}
    nodes = [
        helper.make_node("Conv", ["image", "c1.w", "c1.b"], ["h1"], **conv),
        helper.make_node("Relu", ["h1"], ["r1"]),
        helper.make_node("Conv", ["r1", "c2.w", "c2.b"], ["h2"], **conv),
        helper.make_node("Relu", ["h2"], ["r2"]),
        helper.make_node("GlobalAveragePool", ["r2"], ["gap"]),
        helper.make_node("Flatten", ["gap"], ["feat"]),
        helper.make_node("Gemm", ["feat", "fc.w", "fc.b"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], ["prob"]),
        helper.make_node("Reshape", ["prob", "flat"], ["score"]),
    ]
    if with_seg:
        inits += [_tensor("seg.w", seg_w), _tensor("seg.b", seg_b)]
        nodes += [
            helper.make_node("Conv", ["r2", "seg.w", "seg.b"], ["seg_logits"], kernel_shape=[1, 1]),
            helper.make_node("Softmax", ["seg_logits"], ["seg"], axis=1),
        ]
    _save(path, nodes, inits, (size, size), (3, size // 4, size // 4) if with_seg else ())


def build_package(folder: str, name: str, task: str, threshold: float = 0.5, net: str = "tiny") -> str:
    """A model package in `folder`: `net` "tiny" (64x64) or "conv" (96x96), classification or segmentation."""
    os.makedirs(folder, exist_ok=True)
    with_seg = task == "segmentation"
    if net == "tiny":
        tiny_net_onnx(os.path.join(folder, "model.onnx"), with_seg)
        size, backbone = 64, "tiny-test-net"
    else:
        size, backbone = 96, "random-conv-test-net"
        conv_net_onnx(os.path.join(folder, "model.onnx"), with_seg, size=size)
    manifest = ModelManifest(
        name=name, task=task, input=InputSpec(width=size, height=size), threshold=threshold,
        classes=CLASSES if with_seg else (), backbone=backbone,
    )
    write_manifest(folder, manifest)
    return folder
