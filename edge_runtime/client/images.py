"""Everything a caller may hand the client becomes one packed RGB888 frame (H, W, 3) uint8.

The agent expects interleaved RGB (byte 0 = R). The original Lookout samples let OpenCV's BGR frames
through unchanged and got wrong answers without any error, so an array is accepted only with an
explicit `color_order`; files and encoded bytes are decoded here and are always right.
Python 3.8 compatible.
"""

from __future__ import annotations

import os
from typing import Any, Optional, Union

import cv2
import numpy as np

from edge_runtime.errors import InvalidArgument, NotFound
from edge_runtime.image_header import image_dimensions
from edge_runtime.image_limits import MAX_SIDE, MIN_SIDE

COLOR_ORDERS = ("RGB", "BGR")

ImageInput = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, np.ndarray]


def to_rgb_frame(image: Any, color_order: Optional[str] = None) -> np.ndarray:
    """A C-contiguous uint8 (H, W, 3) RGB frame from a path, encoded PNG/JPEG bytes or an array."""
    if isinstance(image, np.ndarray):
        frame = array_to_rgb(image, color_order)
    elif isinstance(image, (bytes, bytearray, memoryview)):
        frame = decode_image(bytes(image), "the image bytes")
    elif isinstance(image, (str, os.PathLike)):
        frame = read_image_file(os.fspath(image))
    else:
        raise InvalidArgument(
            "image must be a file path, encoded PNG/JPEG bytes or a numpy array, got %s" % type(image).__name__
        )
    check_frame_size(frame.shape[1], frame.shape[0])
    return frame


def read_image_file(path: str) -> np.ndarray:
    if not os.path.isfile(path):
        raise NotFound("image file %s does not exist" % path)
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise InvalidArgument("image file %s cannot be read: %s" % (path, exc.strerror or exc)) from exc
    return decode_image(data, "image file %s" % path)


def decode_image(data: bytes, what: str) -> np.ndarray:
    """Decode PNG/JPEG (anything OpenCV reads) to RGB; grey and alpha images become plain RGB.

    The size in a PNG/JPEG/BMP header is checked first: an out-of-range image is never decoded."""
    size = image_dimensions(data)
    if size is not None:
        check_frame_size(*size)
    decoded = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR) if data else None
    if decoded is None:
        raise InvalidArgument(
            "%s is not an image OpenCV can decode (expected PNG or JPEG, got %d bytes starting %r); "
            "raw pixels must be passed as a numpy array with color_order" % (what, len(data), data[:8])
        )
    return np.ascontiguousarray(cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB))


def array_to_rgb(array: np.ndarray, color_order: Optional[str]) -> np.ndarray:
    """(H, W, 3|4) or (H, W) uint8 in the stated order -> packed RGB; copies only when needed."""
    if color_order not in COLOR_ORDERS:
        raise InvalidArgument(
            "a numpy image needs color_order='RGB' or 'BGR' (OpenCV's imread/VideoCapture give BGR), got %r"
            % (color_order,)
        )
    if array.dtype != np.uint8:
        raise InvalidArgument("image array must be uint8, got %s" % array.dtype)
    if array.ndim == 2:
        return np.ascontiguousarray(np.repeat(array[:, :, None], 3, axis=2))
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise InvalidArgument("image array must be (H, W, 3), (H, W, 4) or (H, W), got shape %s" % (array.shape,))
    pixels = array[:, :, :3]
    if color_order == "BGR":
        pixels = pixels[:, :, ::-1]
    return np.ascontiguousarray(pixels)


def check_frame_size(width: int, height: int) -> None:
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        raise InvalidArgument(
            "image must be %d..%d pixels a side, got %dx%d (width x height)" % (MIN_SIDE, MAX_SIDE, width, height)
        )


def write_png(path: str, rgb: np.ndarray) -> str:
    """Write an RGB array as PNG atomically (temp file beside the target, then rename)."""
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise InvalidArgument("cannot encode a %s array as PNG" % (rgb.shape,))
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise NotFound("folder %s for %s does not exist" % (directory, path))
    tmp = "%s.tmp-%d" % (path, os.getpid())
    with open(tmp, "wb") as fh:
        fh.write(encoded.tobytes())
    os.replace(tmp, path)
    return path
