"""Small writers for dataset tests: real images, manifest lines and files."""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Optional

import cv2
import numpy as np


def textured(height: int = 80, width: int = 80, seed: int = 0) -> np.ndarray:
    """A small non-flat RGB uint8 image."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


def write_image(path: str, rgb: np.ndarray, ext: str = ".png") -> bytes:
    """Encode RGB as PNG/JPEG (cv2 wants BGR), write it, return the bytes."""
    ok, encoded = cv2.imencode(ext, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    data = encoded.tobytes()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(data)
    return data


def cls_line(ref: str, class_name: Optional[str] = "normal", attribute: str = "anomaly-label",
             **extra: Any) -> Dict[str, Any]:
    metadata: Dict[str, Any] = {"type": "groundtruth/image-classification", "human-annotated": "yes",
                                "creation-date": "2020-11-10T03:37:09.600"}
    if class_name is not None:
        metadata["class-name"] = class_name
    line = {"source-ref": ref, attribute: 1 if class_name == "anomaly" else 0, attribute + "-metadata": metadata}
    line.update(extra)
    return line


def seg_line(ref: str, mask_ref: str, colors: Dict[str, str], class_name: str = "anomaly") -> Dict[str, Any]:
    color_map = {str(i): {"class-name": name, "hex-color": color, "confidence": 0}
                 for i, (name, color) in enumerate(colors.items(), start=1)}
    return cls_line(ref, class_name, **{
        "anomaly-mask-ref": mask_ref,
        "anomaly-mask-ref-metadata": {"internal-color-map": color_map, "type": "groundtruth/semantic-segmentation"},
    })


def write_manifest(path: str, lines: List[Any], bom: bool = False) -> str:
    text = "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    with open(path, "wb") as handle:
        handle.write((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return str(path)


def classification_set(root: str, normal: int, anomalous: int, size: tuple = (64, 64), name: str = "m",
                       ext: str = ".png") -> str:
    """Write `normal` + `anomalous` real images under root/images and a manifest referencing them."""
    lines = []
    for i in range(normal + anomalous):
        ref = "images/%s-%03d%s" % (name, i, ext)
        write_image(os.path.join(root, ref), textured(size[1], size[0], seed=i), ext)
        lines.append(cls_line(ref, "normal" if i < normal else "anomaly"))
    return write_manifest(os.path.join(root, name + ".manifest"), lines)


def segmentation_set(root: str, normal: int, masks: List[Dict[str, Any]], colors: Dict[str, str],
                     size: tuple = (64, 64)) -> str:
    """Normal images plus one anomalous image per entry of `masks` ({class name: row slice to paint})."""
    lines = []
    for i in range(normal):
        ref = "images/n-%03d.png" % i
        write_image(os.path.join(root, ref), textured(size[1], size[0], seed=i))
        lines.append(cls_line(ref, "normal"))
    for i, painted in enumerate(masks):
        ref, mask_ref = "images/a-%03d.png" % i, "masks/a-%03d.png" % i
        write_image(os.path.join(root, ref), textured(size[1], size[0], seed=100 + i))
        mask = np.full((size[1], size[0], 3), 255, np.uint8)
        for class_name, rows in painted.items():
            hex_color = colors.get(class_name, class_name)
            mask[rows] = [int(hex_color[k:k + 2], 16) for k in (1, 3, 5)]
        write_image(os.path.join(root, mask_ref), mask)
        lines.append(seg_line(ref, mask_ref, colors))
    return write_manifest(os.path.join(root, "seg.manifest"), lines)
