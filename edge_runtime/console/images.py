"""Images through the console: upload checks, thumbnails, and masks painted in the browser.

Uploads are checked before anything is stored: PNG or JPEG by their bytes (not the file name), a
complete file that decodes, Lookout's 64..4096 pixels a side and 8 MB. A painted mask arrives as the
browser's PNG (anti-aliased, with transparency); it must have the image's size, and each pixel becomes
the nearest class colour (transparent or white: background), so the mask PNG holds exactly the
colours of the line's internal-color-map, as Lookout's masks do.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Sequence

import cv2
import numpy as np

from edge_runtime.console.http import ConsoleError
from edge_runtime.datasets.images import color_to_rgb, decode_image, image_format
from edge_runtime.errors import EdgeRuntimeError
from edge_runtime.image_header import image_dimensions
from edge_runtime.image_limits import MAX_IMAGE_BYTES, MAX_SIDE, MIN_SIDE

CONTENT_TYPES = {"png": "image/png", "jpeg": "image/jpeg"}


def check_image(data: bytes, name: str) -> tuple[str, int, int]:
    """(format, width, height) of an uploaded image, or a ConsoleError saying what is wrong with it."""
    if not data:
        raise ConsoleError("%s is empty" % name)
    if len(data) > MAX_IMAGE_BYTES:
        raise ConsoleError("%s is %d bytes; images may be at most 8 MB" % (name, len(data)))
    fmt = image_format(data)
    if fmt not in CONTENT_TYPES:
        raise ConsoleError("%s is not a PNG or JPEG image (its first bytes are neither); nothing was stored" % name)
    size = image_dimensions(data)
    if size is None:
        raise ConsoleError("%s has no readable %s header" % (name, fmt.upper()))
    width, height = size
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        raise ConsoleError("%s is %dx%d; images must be %d..%d pixels a side" % (name, width, height, MIN_SIDE,
                                                                                 MAX_SIDE))
    try:
        decode_image(data, name)
    except EdgeRuntimeError as exc:
        raise ConsoleError("%s cannot be decoded: %s" % (name, exc)) from None
    return fmt, width, height


def thumbnail(data: bytes, width: int) -> bytes:
    """A JPEG at most `width` pixels wide (PNG for masks, so their colours stay exact)."""
    is_png = image_format(data) == "png"
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ConsoleError("the stored image cannot be decoded", 500)
    height, old = image.shape[:2]
    if old > width:
        image = cv2.resize(image, (width, max(1, round(height * width / old))),
                           interpolation=cv2.INTER_NEAREST if is_png else cv2.INTER_AREA)
    ok, out = cv2.imencode(".png" if is_png else ".jpg", image, [] if is_png else [cv2.IMWRITE_JPEG_QUALITY, 80])
    if not ok:
        raise ConsoleError("the thumbnail could not be encoded", 500)
    return bytes(out.tobytes())


class ThumbnailCache:
    """The last `capacity` thumbnails (or predicted masks) in memory, thread-safe; stored objects never
    change under a key the console wrote."""

    def __init__(self, capacity: int = 4096) -> None:
        self._items: OrderedDict[tuple[str, Any], bytes] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def get(self, key: tuple[str, Any]) -> bytes | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: tuple[str, Any], value: bytes) -> None:
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)


def quantize_mask(data: bytes, size: tuple[int, int], colors: Sequence[str]) -> tuple[np.ndarray, list[int]]:
    """The painted mask as an RGB image of class colours on white, and which class indices (1..) it uses."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None or image_format(data) != "png":
        raise ConsoleError("the mask must be a PNG image")
    height, width = image.shape[:2]
    if (width, height) != size:
        raise ConsoleError("the mask is %dx%d but the image is %dx%d; a mask must have the image's size"
                           % (width, height, size[0], size[1]))
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGRA)
    elif image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2BGRA)
    rgb = image[:, :, 2::-1].astype(np.int32)
    palette = np.array([(255, 255, 255)] + [color_to_rgb(c) for c in colors], dtype=np.int32)
    index = np.zeros((height, width), np.int32)
    best = ((rgb - palette[0]) ** 2).sum(axis=2)
    for i in range(1, len(palette)):  # one colour at a time: memory stays a few planes of the image
        distance = ((rgb - palette[i]) ** 2).sum(axis=2)
        closer = distance < best
        index[closer], best[closer] = i, distance[closer]
    index[image[:, :, 3] < 128] = 0
    used = sorted(int(i) for i in np.unique(index) if i)
    return palette[index].astype(np.uint8), used


def encode_png(rgb: np.ndarray) -> bytes:
    ok, out = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ConsoleError("the mask could not be encoded as PNG", 500)
    return bytes(out.tobytes())
