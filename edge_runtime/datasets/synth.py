"""A small, realistic synthetic Lookout dataset for the demo and the tests.

Parts are procedural textured surfaces (brushed metal, woven fabric, cast metal) with lighting
gradients and per-image jitter, so a model cannot cheat on flat colours. Anomalies are three classes
drawn with their masks in Lookout's default palette: scratch (thick bright/dark curved line), dent
(round shaded blob) and crack (jagged dark polyline). Defects cover a few percent of the image, large
enough for a frozen-backbone segmenter to learn. Everything derives from the seed, so two runs write
byte-identical files. Output is written to a temporary folder beside the target, then renamed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import cv2
import numpy as np

from edge_runtime.datasets.images import color_to_rgb, write_png
from edge_runtime.datasets.types import MaskClass
from edge_runtime.errors import InvalidArgument
from edge_runtime.image_limits import MAX_SIDE, MIN_SIDE
from edge_runtime.staging import staged_folder

CLASSES = (MaskClass("scratch", "#23A436"), MaskClass("dent", "#14A3B3"), MaskClass("crack", "#F76902"))
CREATION_DATE = "2020-11-10T03:37:09.600"
JOB_NAME = "edge-runtime-synth"
DEFECTS = ("scratch", "dent", "crack")


def _smooth_noise(size: int, rng: np.random.Generator, cells: int) -> np.ndarray:
    """Value noise in [0, 1]: a coarse random grid enlarged with cubic interpolation."""
    grid = rng.random((cells + 1, cells + 1)).astype(np.float32)
    return np.clip(cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC), 0.0, 1.0)


def _lighting(size: int, rng: np.random.Generator) -> np.ndarray:
    """A tilted light plane plus a soft vignette, different on every image."""
    ramp = np.linspace(-0.5, 0.5, size, dtype=np.float32)
    x, y = np.meshgrid(ramp, ramp)
    angle = rng.uniform(0, 2 * np.pi)
    plane = (np.cos(angle) * x + np.sin(angle) * y) * rng.uniform(0.1, 0.25)
    return plane - 0.25 * (x * x + y * y)


def _brushed(size: int, rng: np.random.Generator) -> np.ndarray:
    streaks = cv2.blur(rng.normal(0, 1, (size, size)).astype(np.float32), (max(9, size // 6), 1))
    streaks = streaks / (np.abs(streaks).max() + 1e-6)
    turn = cv2.getRotationMatrix2D((size / 2, size / 2), rng.uniform(-12, 12), 1.0)
    streaks = cv2.warpAffine(streaks, turn, (size, size), borderMode=cv2.BORDER_REFLECT)
    return 0.6 + 0.08 * streaks + 0.08 * (_smooth_noise(size, rng, 4) - 0.5)


def _woven(size: int, rng: np.random.Generator) -> np.ndarray:
    period = size / rng.uniform(10, 14)
    ramp = (np.arange(size, dtype=np.float32) + rng.uniform(0, period)) / period
    x, y = np.meshgrid(ramp, ramp)
    parity = (np.floor(x) + np.floor(y)) % 2
    threads = np.where(parity > 0, np.cos(np.pi * (y * 3 % 1)) ** 2, np.cos(np.pi * (x * 3 % 1)) ** 2)
    return 0.5 + 0.12 * threads + 0.05 * rng.normal(0, 1, (size, size)).astype(np.float32)


def _cast(size: int, rng: np.random.Generator) -> np.ndarray:
    octaves = sum(w * _smooth_noise(size, rng, c) for w, c in ((0.5, 4), (0.3, 12), (0.2, 32)))
    return 0.45 + 0.25 * (octaves - 0.5) + 0.04 * rng.normal(0, 1, (size, size)).astype(np.float32)


TEXTURES = {"brushed": _brushed, "woven": _woven, "cast": _cast}
TINTS = {"brushed": (0.95, 0.98, 1.04), "woven": (1.05, 0.97, 0.85), "cast": (1.0, 0.96, 0.92)}


def make_texture(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """Float32 HxWx3 surface in [0, 1]: texture, lighting, tint and brightness jitter."""
    grey = TEXTURES[kind](size, rng) + _lighting(size, rng) + rng.uniform(-0.06, 0.06)
    tint = np.asarray(TINTS[kind], dtype=np.float32) * rng.uniform(0.97, 1.03, 3).astype(np.float32)
    return np.clip(grey[..., None] * tint, 0.0, 1.0).astype(np.float32)


def _blend(image: np.ndarray, layer: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Mix `target` (HxWx3 or 3-vector) into `image` with opacity `layer` (HxW in [0, 1]); region > 0.5."""
    alpha = layer[..., None]
    image[:] = image * (1 - alpha) + target * alpha
    return layer > 0.5


def _scratch(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A thick, smooth, curved line: bright bare metal (mostly) or dark."""
    size = image.shape[0]
    length = size * rng.uniform(0.45, 0.7)
    angle = rng.uniform(0, np.pi)
    centre = rng.uniform(0.3, 0.7, 2) * size
    half = np.array([np.cos(angle), np.sin(angle)]) * length / 2
    bend = np.array([-half[1], half[0]]) * rng.uniform(-0.4, 0.4)
    t = np.linspace(0, 1, 32)[:, None]
    points = (1 - t) ** 2 * (centre - half) + 2 * t * (1 - t) * (centre + bend) + t ** 2 * (centre + half)
    layer = np.zeros(image.shape[:2], np.float32)
    width = max(5, int(round(size * rng.uniform(0.035, 0.045))))
    cv2.polylines(layer, [np.round(points).astype(np.int32)], False, 1.0, width, cv2.LINE_AA)
    bright = rng.random() < 0.75
    target = np.clip(image + 0.35, 0, 1) if bright else image * 0.4
    return _blend(image, layer, target)


def _dent(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A round depression: shaded by a light from one side, darker inside, dark rim."""
    size = image.shape[0]
    radius = size * rng.uniform(0.075, 0.1)
    cx, cy = rng.uniform(0.2, 0.8, 2) * size
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    dx, dy = (x - cx) / (radius * rng.uniform(0.85, 1.15)), (y - cy) / radius
    d2 = dx * dx + dy * dy
    light = rng.uniform(0, 2 * np.pi)
    shade = 0.35 * (dx * np.cos(light) + dy * np.sin(light)) - 0.2 * (1 - d2)
    rim = np.exp(-((np.sqrt(d2) - 1) * radius / 2.0) ** 2) * -0.25
    inside = d2 <= 1
    image += np.where(inside, shade, 0)[..., None] + rim[..., None]
    np.clip(image, 0, 1, out=image)
    return inside


def _crack(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A jagged dark random walk with a side branch."""
    size = image.shape[0]
    step = size * 0.04
    layer = np.zeros(image.shape[:2], np.float32)
    width = max(4, int(round(size * rng.uniform(0.025, 0.032))))
    start, heading = rng.uniform(0.25, 0.75, 2) * size, rng.uniform(0, 2 * np.pi)
    for steps in (int(rng.integers(12, 17)), int(rng.integers(4, 7))):
        point, walk = start, [start]
        for _ in range(steps):
            heading += rng.uniform(-0.7, 0.7)
            point = np.clip(point + step * np.array([np.cos(heading), np.sin(heading)]), 4, size - 5)
            walk.append(point)
        cv2.polylines(layer, [np.round(np.array(walk)).astype(np.int32)], False, 1.0, width, cv2.LINE_AA)
        start, heading = walk[len(walk) // 2], heading + rng.choice([-1.2, 1.2])
        width = max(3, width - 2)
    return _blend(image, layer, image * 0.25)


DRAWERS = {"scratch": _scratch, "dent": _dent, "crack": _crack}


def draw_defect(kind: str, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw one defect into the float image in place; return its boolean region for the mask."""
    return DRAWERS[kind](image, rng)


@dataclass(frozen=True)
class SynthConfig:
    """How many images of each kind, their size and surface; validated on creation."""

    seed: int = 0
    normal_train: int = 60
    anomalous_train: int = 60
    normal_test: int = 20
    anomalous_test: int = 20
    size: int = 256
    texture: str = "brushed"  # one of TEXTURES, or "mixed"

    def __post_init__(self) -> None:
        if not MIN_SIDE <= self.size <= MAX_SIDE:
            raise InvalidArgument("size must be %d..%d pixels (Lookout's limits), got %d"
                                  % (MIN_SIDE, MAX_SIDE, self.size))
        counts = (self.normal_train, self.anomalous_train, self.normal_test, self.anomalous_test)
        if min(counts) < 0 or sum(counts) == 0:
            raise InvalidArgument("image counts must be >= 0 and not all zero, got %s" % (counts,))
        if self.texture not in TEXTURES and self.texture != "mixed":
            raise InvalidArgument("texture must be one of %s or 'mixed', got %r"
                                  % (", ".join(sorted(TEXTURES)), self.texture))


@dataclass(frozen=True)
class SyntheticPaths:
    """Where the four manifests were written (absolute paths)."""

    root: str
    classification_train: str
    classification_test: str
    segmentation_train: str
    segmentation_test: str


def _classification_line(ref: str, anomalous: bool) -> Dict[str, Any]:
    return {
        "source-ref": ref,
        "anomaly-label": 1 if anomalous else 0,
        "anomaly-label-metadata": {
            "class-name": "anomaly" if anomalous else "normal", "confidence": 1,
            "type": "groundtruth/image-classification", "human-annotated": "yes",
            "creation-date": CREATION_DATE, "job-name": JOB_NAME,
        },
    }


def _segmentation_line(ref: str, mask_ref: Optional[str]) -> Dict[str, Any]:
    line = _classification_line(ref, mask_ref is not None)
    if mask_ref is not None:
        color_map = {"0": {"class-name": "BACKGROUND", "hex-color": "#ffffff", "confidence": 0.0}}
        for index, cls in enumerate(CLASSES, start=1):
            color_map[str(index)] = {"class-name": cls.name, "hex-color": cls.color, "confidence": 0.0}
        line["anomaly-mask-ref"] = mask_ref
        line["anomaly-mask-ref-metadata"] = {
            "internal-color-map": color_map, "type": "groundtruth/semantic-segmentation",
            "human-annotated": "yes", "creation-date": CREATION_DATE, "job-name": JOB_NAME,
        }
    return line


def render_sample(config: SynthConfig, split: str, index: int, anomalous: bool
                  ) -> Tuple[np.ndarray, Optional[np.ndarray], List[str]]:
    """(RGB image, RGB mask or None, defect class names) for one image; seeded by (seed, split, index)."""
    rng = np.random.default_rng([config.seed, 1 if split == "test" else 0, index, int(anomalous)])
    texture = config.texture
    if texture == "mixed":
        texture = sorted(TEXTURES)[int(rng.integers(len(TEXTURES)))]
    surface = make_texture(texture, config.size, rng)
    if not anomalous:
        return _to_uint8(surface), None, []
    mask = np.full(surface.shape, 255, dtype=np.uint8)
    kinds = [DEFECTS[index % len(DEFECTS)]]
    if rng.random() < 0.2:  # some parts carry two kinds of defect
        kinds.append(DEFECTS[(index + 1 + int(rng.integers(len(DEFECTS) - 1))) % len(DEFECTS)])
    for kind in kinds:
        region = draw_defect(kind, surface, rng)
        cls = next(c for c in CLASSES if c.name == kind)
        mask[region] = color_to_rgb(cls.color)
    return _to_uint8(surface), mask, kinds


def _to_uint8(surface: np.ndarray) -> np.ndarray:
    return np.round(np.clip(surface, 0, 1) * 255).astype(np.uint8)


def _write_split(root: str, config: SynthConfig, split: str, counts: Tuple[int, int]
                 ) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    os.makedirs(os.path.join(root, "images", split))
    os.makedirs(os.path.join(root, "masks", split))
    classification: List[Dict[str, Any]] = []
    segmentation: List[Dict[str, Any]] = []
    for anomalous, count in ((False, counts[0]), (True, counts[1])):
        for index in range(count):
            image, mask, _ = render_sample(config, split, index, anomalous)
            name = "%s-%04d.png" % ("anomaly" if anomalous else "normal", index)
            ref = "images/%s/%s" % (split, name)
            write_png(os.path.join(root, ref), image)
            mask_ref = None
            if mask is not None:
                mask_ref = "masks/%s/%s" % (split, name)
                write_png(os.path.join(root, mask_ref), mask)
            classification.append(_classification_line(ref, anomalous))
            segmentation.append(_segmentation_line(ref, mask_ref))
    return classification, segmentation


def _write_manifest(path: str, lines: List[Dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for line in lines:
            handle.write(json.dumps(line, sort_keys=True) + "\n")


def _paths(root: str) -> SyntheticPaths:
    return SyntheticPaths(
        root=root,
        classification_train=os.path.join(root, "classification-train.manifest"),
        classification_test=os.path.join(root, "classification-test.manifest"),
        segmentation_train=os.path.join(root, "segmentation-train.manifest"),
        segmentation_test=os.path.join(root, "segmentation-test.manifest"),
    )


def _not_free(root: str) -> InvalidArgument:
    return InvalidArgument("output folder %s exists and is not empty; choose another or overwrite it" % root)


def write_synthetic_dataset(output_dir: str, seed: int = 0, config: Optional[SynthConfig] = None,
                            overwrite: bool = False) -> SyntheticPaths:
    """Write images/, masks/ and four manifests under `output_dir`, all or nothing (`seed` when no config)."""
    config = config or SynthConfig(seed=seed)
    root = os.path.abspath(str(output_dir))
    with staged_folder(root, replace=overwrite, refuse=_not_free) as tmp:
        staged = _paths(tmp)
        for split, counts in (("train", (config.normal_train, config.anomalous_train)),
                              ("test", (config.normal_test, config.anomalous_test))):
            classification, segmentation = _write_split(tmp, config, split, counts)
            _write_manifest(getattr(staged, "classification_" + split), classification)
            _write_manifest(getattr(staged, "segmentation_" + split), segmentation)
    return _paths(root)
