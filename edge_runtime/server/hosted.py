"""Models hosted in this process: the runtime's predictor per (project, version), and detection.

Loading goes through the same path as the device agent (`load_package` + `create_predictor`), so
DetectAnomalies answers as the edge would, with Lookout's result rules from the runtime's postprocess.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from edge_runtime.datasets.images import decode_image, image_format
from edge_runtime.errors import InvalidArgument
from edge_runtime.image_limits import MAX_IMAGE_BYTES, MAX_SIDE, MIN_SIDE
from edge_runtime.modelpkg.manifest import ModelManifest
from edge_runtime.runtime.factory import PredictorOptions, create_predictor
from edge_runtime.runtime.loader import load_package
from edge_runtime.runtime.postprocess import detection_result, palette_lut, render_mask
from edge_runtime.runtime.types import Predictor

CONTENT_TYPES = {"image/png": "png", "image/jpeg": "jpeg"}


@dataclass
class HostedModel:
    manifest: ModelManifest
    predictor: Predictor
    note: str
    lock: threading.Lock = field(default_factory=threading.Lock)


def load_hosted(package_dir: str) -> HostedModel:
    package = load_package(package_dir)
    predictor = create_predictor(package, PredictorOptions(max_batch_size=1))
    predictor.load()
    predictor.warmup()
    return HostedModel(package.manifest, predictor, predictor.backend_note)


class HostedModels:
    """Key -> HostedModel; thread-safe; `close_all` on shutdown."""

    def __init__(self) -> None:
        self._models: dict[str, HostedModel] = {}
        self._lock = threading.Lock()

    def put(self, key: str, model: HostedModel) -> None:
        with self._lock:
            old = self._models.pop(key, None)
            self._models[key] = model
        if old is not None:
            old.predictor.close()

    def get(self, key: str) -> HostedModel | None:
        with self._lock:
            return self._models.get(key)

    def remove(self, key: str) -> None:
        with self._lock:
            model = self._models.pop(key, None)
        if model is not None:
            with model.lock:
                model.predictor.close()

    def close_all(self) -> None:
        with self._lock:
            keys = list(self._models)
        for key in keys:
            self.remove(key)


def decode_request_image(body: bytes, content_type: str) -> np.ndarray:
    """The DetectAnomalies body as RGB; the bytes must be the format Content-Type names, 64..4096 a side."""
    if len(body) > MAX_IMAGE_BYTES:
        raise InvalidArgument("the image is %d bytes; at most %d (8 MB) are accepted" % (len(body), MAX_IMAGE_BYTES))
    expected = CONTENT_TYPES.get(content_type.split(";")[0].strip().lower())
    if expected is None:
        raise InvalidArgument("Content-Type must be image/png or image/jpeg, got %r" % content_type)
    found = image_format(body)
    if found != expected:
        raise InvalidArgument("Content-Type says %s but the body is %s" % (content_type, found.upper() or
                                                                           "neither PNG nor JPEG"))
    image = decode_image(body, "request body")
    height, width = image.shape[:2]
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        raise InvalidArgument("images must be %d..%d pixels a side, got %dx%d" % (MIN_SIDE, MAX_SIDE, width, height))
    return image


def detect(model: HostedModel, image: np.ndarray) -> dict[str, Any]:
    """DetectAnomalyResult: label, confidence, and for segmentation the classes found and a PNG mask."""
    with model.lock:
        prediction = model.predictor.predict([image])[0]
    result = detection_result(prediction, model.manifest)
    output: dict[str, Any] = {"Source": {"Type": "direct"}, "IsAnomalous": result.is_anomalous,
                              "Confidence": result.confidence}
    if model.manifest.task == "segmentation" and prediction.class_map is not None:
        output["Anomalies"] = [{"Name": a.name, "PixelAnomaly": {"TotalPercentageArea": a.fraction,
                                                                 "Color": a.hex_color}} for a in result.anomalies]
        mask = render_mask(prediction.class_map, palette_lut(model.manifest.classes))
        ok, png = cv2.imencode(".png", cv2.cvtColor(mask, cv2.COLOR_RGB2BGR))
        if not ok:
            raise RuntimeError("the anomaly mask could not be encoded as PNG")
        output["AnomalyMask"] = png.tobytes()
    return output
