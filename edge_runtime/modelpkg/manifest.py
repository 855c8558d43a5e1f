"""Model package manifest (`edge-model.json`): what every later stage needs to know about a model.

A model package is a folder:

    edge-model.json     this manifest
    model.onnx          the network: input `image` float32 NCHW; outputs below
    calibration.npz     optional: `images` uint8 (N, H, W, 3) RGB at the input size, for INT8 calibration

ONNX contract (opset <= 18, IR version <= 10, dynamic batch axis):
    input  `image`  float32 [N, 3, H, W], already resized and normalised as `input` says
    output `score`  float32 [N]           probability that the image is anomalous (0..1)
    output `seg`    float32 [N, C, h, w]  segmentation only: class probabilities, class 0 = background,
                                          at any resolution (the runtime resizes the argmax with nearest)

Python 3.8 compatible: the agent reads this on the device.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from edge_runtime.errors import ModelPackageError

MANIFEST_FILE = "edge-model.json"
MODEL_FILE = "model.onnx"
# A Lookout model ARN; the server's training writes its own, a model trained elsewhere gets LOCAL_ARN.
MODEL_ARN = re.compile(r"^arn:aws:lookoutvision:[a-z0-9-]+:\d{12}:model/[a-zA-Z0-9][a-zA-Z0-9_-]*/\d+$")
LOCAL_ARN = "arn:aws:lookoutvision:local:000000000000:model/%s/%d"
CALIBRATION_FILE = "calibration.npz"
FORMAT_VERSION = 1
TASKS = ("classification", "segmentation")
INPUT_NAME = "image"
SCORE_OUTPUT = "score"
SEG_OUTPUT = "seg"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_HEX = re.compile(r"^#[0-9A-F]{6}$")


@dataclass(frozen=True)
class InputSpec:
    """How a frame becomes the network's input tensor."""

    width: int
    height: int
    color_order: str = "RGB"  # channel order the network expects
    layout: str = "NCHW"
    dtype: str = "float32"
    scale: float = 1.0 / 255.0  # multiply uint8 pixels by this first
    mean: Tuple[float, float, float] = IMAGENET_MEAN
    std: Tuple[float, float, float] = IMAGENET_STD
    interpolation: str = "area"  # cv2.INTER_AREA when shrinking, linear when enlarging

    def __post_init__(self) -> None:
        if not (16 <= self.width <= 4096 and 16 <= self.height <= 4096):
            raise ModelPackageError(
                "input size must be 16..4096 pixels a side, got %dx%d" % (self.width, self.height)
            )
        if self.color_order not in ("RGB", "BGR"):
            raise ModelPackageError("input.color_order must be RGB or BGR, got %r" % self.color_order)
        if self.layout != "NCHW":
            raise ModelPackageError("input.layout must be NCHW, got %r" % self.layout)
        if self.interpolation not in ("area", "linear"):
            raise ModelPackageError("input.interpolation must be area or linear, got %r" % self.interpolation)
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise ModelPackageError("input.mean and input.std need three values, std > 0")


@dataclass(frozen=True)
class ClassInfo:
    """A segmentation class: index into the `seg` output's channel axis, name, mask colour."""

    index: int
    name: str
    color: str  # upper-case #RRGGBB

    def __post_init__(self) -> None:
        if not _HEX.match(self.color):
            raise ModelPackageError("class %r colour must be upper-case #RRGGBB, got %r" % (self.name, self.color))

    @property
    def rgb(self) -> Tuple[int, int, int]:
        return (int(self.color[1:3], 16), int(self.color[3:5], 16), int(self.color[5:7], 16))


@dataclass(frozen=True)
class ModelManifest:
    """Everything the compiler, packager and agent read about a trained model."""

    name: str
    task: str
    input: InputSpec
    threshold: float
    version: int = 1
    classes: Tuple[ClassInfo, ...] = ()  # segmentation: background first
    model_file: str = MODEL_FILE  # a plain file name inside the package folder
    model_arn: str = ""  # the Lookout model this package came from ("" = trained outside a Lookout server)
    created: str = ""
    backbone: str = ""
    training: Dict[str, Any] = field(default_factory=dict)  # data summary: counts, sizes, manifests
    metrics: Dict[str, Any] = field(default_factory=dict)  # Lookout-style evaluation metrics
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        _check_model_file(self.model_file)
        if self.model_arn and not MODEL_ARN.match(self.model_arn):
            raise ModelPackageError("model_arn must be a Lookout model ARN like arn:aws:lookoutvision:us-east-1:"
                                    "123456789012:model/project/1, got %r" % self.model_arn[:200])
        if self.task not in TASKS:
            raise ModelPackageError("task must be one of %s, got %r" % (", ".join(TASKS), self.task))
        if not 0.0 <= self.threshold <= 1.0:
            raise ModelPackageError("threshold must be within 0..1, got %r" % self.threshold)
        if self.task == "segmentation":
            if len(self.classes) < 2:
                raise ModelPackageError("a segmentation model needs background and at least one anomaly class")
            if [c.index for c in self.classes] != list(range(len(self.classes))):
                raise ModelPackageError("class indices must be 0..C-1 in order")
            if self.classes[0].name.lower() != "background":
                raise ModelPackageError("class 0 must be background, got %r" % self.classes[0].name)
        if self.format_version > FORMAT_VERSION:
            raise ModelPackageError(
                "model package format %d is newer than this runtime understands (%d)"
                % (self.format_version, FORMAT_VERSION)
            )

    @property
    def lookout_arn(self) -> str:
        """What ListModels/DescribeModel report: the Lookout ARN, else the documented local form."""
        return self.model_arn or LOCAL_ARN % (self.name, self.version)

    @property
    def anomaly_classes(self) -> Tuple[ClassInfo, ...]:
        return self.classes[1:]

    def to_dict(self) -> Dict[str, Any]:
        data = asdict(self)
        data["input"]["mean"] = list(self.input.mean)
        data["input"]["std"] = list(self.input.std)
        data["classes"] = [asdict(c) for c in self.classes]
        if not self.model_arn:  # written only when known, so agents that predate the key read the package
            del data["model_arn"]
        return data

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "ModelManifest":
        try:
            spec = dict(data["input"])
            spec["mean"] = tuple(spec.get("mean", IMAGENET_MEAN))
            spec["std"] = tuple(spec.get("std", IMAGENET_STD))
            classes = tuple(ClassInfo(**c) for c in data.get("classes", ()))
            fields = {k: v for k, v in data.items() if k not in ("input", "classes")}
            return cls(input=InputSpec(**spec), classes=classes, **fields)
        except ModelPackageError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelPackageError("%s is not a valid model manifest: %s" % (MANIFEST_FILE, exc)) from exc


def _check_model_file(name: Any) -> None:
    """`model_file` names a file in the package folder itself: no folders, no '..', not absolute."""
    if not isinstance(name, str) or not name or name in (".", "..") or "/" in name or "\\" in name \
            or "\0" in name or name.startswith("~"):
        raise ModelPackageError("model_file must be a plain file name inside the package (like model.onnx), "
                                "got %r" % (str(name)[:200],))


def model_file_path(package_dir: str, manifest: "ModelManifest") -> str:
    """The model file's path; it must be a regular file inside the package, not a link leading out."""
    root = os.path.realpath(package_dir)
    path = os.path.join(package_dir, manifest.model_file)
    real = os.path.realpath(path)
    if os.path.dirname(real) != root or not os.path.isfile(real):
        if os.path.lexists(path) and os.path.dirname(real) != root:
            raise ModelPackageError("%s: model file %s leads out of the package" % (package_dir, manifest.model_file))
        raise ModelPackageError("%s: model file %s is missing" % (package_dir, manifest.model_file))
    return path


def package_arn(package_dir: str) -> str:
    """The ARN a package reports, or "" when its manifest cannot be read (ListModels must not fail)."""
    try:
        return read_manifest(package_dir).lookout_arn
    except ModelPackageError:
        return ""


def read_manifest(package_dir: str) -> ModelManifest:
    """Read and validate `<package_dir>/edge-model.json`; the model file must exist beside it."""
    path = os.path.join(package_dir, MANIFEST_FILE)
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise ModelPackageError("%s is not a model package: %s is missing" % (package_dir, MANIFEST_FILE)) from None
    except ValueError as exc:
        raise ModelPackageError("%s is not valid JSON: %s" % (path, exc)) from exc
    manifest = ModelManifest.from_dict(data)
    model_file_path(package_dir, manifest)
    return manifest


def write_manifest(package_dir: str, manifest: ModelManifest) -> str:
    """Write the manifest atomically (temp file then rename) and return its path."""
    path = os.path.join(package_dir, MANIFEST_FILE)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(manifest.to_dict(), fh, indent=2, sort_keys=True)
        fh.write("\n")
    os.replace(tmp, path)
    return path


def default_palette() -> List[str]:
    """Lookout's default mask colours after the white background."""
    return ["#23A436", "#14A3B3", "#F76902", "#9380FF"]


def optional_calibration_path(package_dir: str) -> Optional[str]:
    path = os.path.join(package_dir, CALIBRATION_FILE)
    return path if os.path.isfile(path) else None
