"""A tiny, real model package for the compiler tests: a few-conv torch net exported to ONNX, real
(synthetic-texture) calibration images, and a manifest written with the package contract's writer."""

from __future__ import annotations

import os

import numpy as np
import torch

from edge_runtime.datasets.synth import SynthConfig, render_sample
from edge_runtime.modelpkg.manifest import InputSpec, ModelManifest, write_manifest

SIZE = 64


class TinyNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(3, 8, 3, stride=2, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
            torch.nn.Conv2d(8, 16, 3, stride=2, padding=1), torch.nn.ReLU(),
            torch.nn.Conv2d(16, 16, 3, padding=1), torch.nn.ReLU(),
            torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
        )
        self.head = torch.nn.Linear(16, 1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.head(self.features(image))).reshape(-1)


def calibration_images(count: int = 24, seed: int = 0) -> np.ndarray:
    config = SynthConfig(seed=seed, size=SIZE, texture="mixed")
    return np.stack([render_sample(config, "train", i, anomalous=bool(i % 2))[0] for i in range(count)])


def export_onnx(path: str, seed: int = 0) -> None:
    torch.manual_seed(seed)
    model = TinyNet().eval()
    with torch.no_grad():  # a non-trivial BatchNorm so fusion has something to fold
        model.features[1].running_mean.uniform_(-0.2, 0.2)
        model.features[1].running_var.uniform_(0.5, 1.5)
    torch.onnx.export(model, torch.zeros(1, 3, SIZE, SIZE), path, input_names=["image"], output_names=["score"],
                      dynamic_axes={"image": {0: "N"}, "score": {0: "N"}}, opset_version=17, dynamo=False)


def make_package(root: str, with_calibration: bool = True, threshold: float = 0.5) -> str:
    os.makedirs(root, exist_ok=True)
    export_onnx(os.path.join(root, "model.onnx"))
    if with_calibration:
        np.savez_compressed(os.path.join(root, "calibration.npz"), images=calibration_images())
    manifest = ModelManifest(name="tiny", task="classification", input=InputSpec(width=SIZE, height=SIZE),
                             threshold=threshold, backbone="tinynet")
    write_manifest(root, manifest)
    return root
