"""Predicted masks for the evaluation and trial pages: the model package run in-process, as hosted.

A trained model need not be hosted for its evaluation page, so its package is loaded here on first
use (the runtime's own loader, `server.hosted.load_hosted`) and kept for the next images; at most
MAX_MODELS at a time.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from edge_runtime.console.files import read_object
from edge_runtime.console.http import ConsoleError, HttpResponse, Request, data
from edge_runtime.console.images import ThumbnailCache
from edge_runtime.console.projects import NAME
from edge_runtime.server.hosted import HostedModel, decode_request_image, detect, load_hosted

MAX_MODELS = 2


class LoadedModels:
    def __init__(self) -> None:
        self._models: OrderedDict[str, HostedModel] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, package_dir: str) -> HostedModel:
        with self._lock:
            model = self._models.get(package_dir)
            if model is None:
                model = load_hosted(package_dir)
                self._models[package_dir] = model
                while len(self._models) > MAX_MODELS:
                    evicted = self._models.popitem(last=False)[1]
                    with evicted.lock:  # not while another request is predicting with it
                        evicted.predictor.close()
            self._models.move_to_end(package_dir)
            return model


def package_dir(console: Any, project: str, version: str) -> str:
    row = console.context.store.query_one("SELECT package_dir FROM lv_models WHERE project = ? AND version = ?",
                                          (project, int(version)))
    if row is None or not row["package_dir"]:
        raise ConsoleError("model %s/%s has no trained package" % (project, version), 404)
    return str(row["package_dir"])


def predict(console: Any, project: str, version: str, image: bytes) -> dict[str, Any]:
    models = console.services.setdefault("models", LoadedModels())
    model = models.get(package_dir(console, project, version))
    content_type = "image/png" if image.startswith(b"\x89PNG") else "image/jpeg"
    return detect(model, decode_request_image(image, content_type))


def predicted_mask(console: Any, request: Request, project: str, version: str) -> HttpResponse:
    ref = request.arg("ref")
    cache = console.services.setdefault("predicted", ThumbnailCache(2048))  # (key) -> PNG, thread-safe LRU
    key = ("%s/%s" % (project, version), ref)
    body = cache.get(key)
    if body is None:
        result = predict(console, project, version, read_object(console, ref))
        if "AnomalyMask" not in result:
            raise ConsoleError("model %s/%s is a classification model: it predicts no mask" % (project, version), 404)
        body = bytes(result["AnomalyMask"])
        cache.put(key, body)
    return data(body, "image/png")


ROUTES = [("GET", "/p/(?P<project>%s)/m/(?P<version>[0-9]+)/predicted-mask" % NAME, predicted_mask)]
