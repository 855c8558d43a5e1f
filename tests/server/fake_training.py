"""A stand-in trainer for the server tests that check the API around training, not training itself.

It writes a real model package (torch -> ONNX, opset 17) in well under a second: the score is
sigmoid(4 * mean normalised red), segmentation maps red areas to the dataset's first anomaly class.
So a red image is anomalous and a dark one normal. The end-to-end test uses the real trainer.
Named in the server config as "tests.server.fake_training:train"; "...:fail" always fails.
"""

from __future__ import annotations

import os
import warnings

from edge_runtime.datasets.manifest import read_manifest as read_dataset
from edge_runtime.errors import DatasetError
from edge_runtime.modelpkg.manifest import ClassInfo, InputSpec, ModelManifest, write_manifest
from edge_runtime.server.training import TrainingJob

TRAINER = "tests.server.fake_training:train"
FAILING_TRAINER = "tests.server.fake_training:fail"
OFF_CENTRE_TRAINER = "tests.server.fake_training:train_off_centre"  # threshold 0.41, as in issue 15


def _export(path: str, classes: int) -> None:
    import torch

    class Net(torch.nn.Module):
        def forward(self, image):  # type: ignore[no-untyped-def]
            red = 4.0 * image[:, 0:1]
            score = torch.sigmoid(red.mean(dim=(1, 2, 3)))
            if classes == 0:
                return score
            others = [torch.zeros_like(red) for _ in range(classes - 2)]
            logits = torch.cat([torch.zeros_like(red), red] + others, dim=1)
            return score, torch.softmax(torch.nn.functional.avg_pool2d(logits, 4), dim=1)

    outputs = ["score", "seg"] if classes else ["score"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Net().eval(), (torch.zeros(1, 3, 64, 64),), path, input_names=["image"],
                          output_names=outputs, opset_version=17,
                          dynamic_axes={n: {0: "N"} for n in ["image"] + outputs}, dynamo=False)


def train(job: TrainingJob, threshold: float = 0.5) -> str:
    dataset = read_dataset(job.train_manifest)
    classes: tuple[ClassInfo, ...] = ()
    if job.task == "segmentation":
        classes = (ClassInfo(0, "background", "#FFFFFF"),) + tuple(
            ClassInfo(i, c.name, c.color) for i, c in enumerate(dataset.classes, start=1))
    tmp = job.package_dir + ".tmp"
    os.makedirs(tmp)
    _export(os.path.join(tmp, "model.onnx"), len(classes))
    write_manifest(tmp, ModelManifest(name="fake", task=job.task, input=InputSpec(width=64, height=64),
                                      threshold=threshold, classes=classes, backbone="fake-red-detector",
                                      metrics={"F1Score": 0.5, "Precision": 0.25, "Recall": 1.0, "ROCAUC": 0.5}))
    os.rename(tmp, job.package_dir)
    return job.package_dir


def train_off_centre(job: TrainingJob) -> str:
    """A package whose decision threshold is not 0.5 (older packages, or a foreign trainer's)."""
    return train(job, threshold=0.41)


def fail(job: TrainingJob) -> str:
    raise DatasetError("training set needs at least 20 normal images, got 3", job.train_manifest)
