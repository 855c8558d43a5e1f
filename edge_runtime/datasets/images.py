"""Load dataset images and masks (local paths or `s3://`) as RGB uint8 arrays, and read their headers.

Only PNG and JPEG are accepted (Lookout's rule), recognised by their magic bytes rather than the file
name. boto3 is imported lazily so a device without it can still read local files; the S3 endpoint comes
from the `endpoint_url` argument or `AWS_ENDPOINT_URL` (tests point it at a loopback moto server).
"""

from __future__ import annotations

import os
import threading
from typing import Any, Dict, Optional, Sequence, Tuple

import cv2
import numpy as np

from edge_runtime.datasets.types import MaskClass, Sample
from edge_runtime.errors import DatasetError, require
from edge_runtime.image_header import image_dimensions
from edge_runtime.image_limits import MAX_SIDE

MAX_DECODED_SIDE = MAX_SIDE  # Lookout's largest image side; larger ones are refused before decoding

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"

_clients: Dict[Optional[str], Any] = {}
_clients_lock = threading.Lock()


def s3_client(endpoint_url: Optional[str] = None) -> Any:
    """One boto3 S3 client per endpoint (clients are thread-safe, their creation is not)."""
    endpoint = endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None
    with _clients_lock:
        if endpoint not in _clients:
            boto3 = require("boto3", "train")
            _clients[endpoint] = boto3.client("s3", endpoint_url=endpoint)
        return _clients[endpoint]


def split_s3_uri(uri: str) -> Tuple[str, str]:
    bucket, _, key = uri[len("s3://"):].partition("/")
    if not bucket or not key:
        raise DatasetError("expected an S3 location like s3://bucket/key", uri)
    return bucket, key


def _s3_call(uri: str, endpoint_url: Optional[str], **kwargs: Any) -> Dict[str, Any]:
    bucket, key = split_s3_uri(uri)
    client = s3_client(endpoint_url)
    try:
        return client.get_object(Bucket=bucket, Key=key, **kwargs)  # type: ignore[no-any-return]
    except Exception as exc:  # botocore's error classes are generated at run time
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
        if code in ("NoSuchKey", "404", "NotFound"):
            raise DatasetError("file not found in S3", uri) from None
        raise DatasetError("cannot read from S3: %s" % exc, uri) from None


def read_s3_object(uri: str, endpoint_url: Optional[str] = None) -> bytes:
    return _s3_call(uri, endpoint_url)["Body"].read()  # type: ignore[no-any-return]


def s3_size(uri: str, endpoint_url: Optional[str] = None) -> int:
    """Object size in bytes, from a one-byte ranged GET (needs only s3:GetObject permission)."""
    response = _s3_call(uri, endpoint_url, Range="bytes=0-0")
    response["Body"].read()
    content_range = response.get("ContentRange", "")
    if "/" in content_range:
        return int(content_range.rsplit("/", 1)[1])
    return int(response.get("ContentLength", 0))


def read_bytes(ref: str, endpoint_url: Optional[str] = None, limit: Optional[int] = None) -> bytes:
    """The file's bytes (the first `limit` bytes when given) from a local path or S3."""
    if ref.startswith("s3://"):
        if limit is None:
            return read_s3_object(ref, endpoint_url)
        return _s3_call(ref, endpoint_url, Range="bytes=0-%d" % (limit - 1))["Body"].read()  # type: ignore
    try:
        with open(ref, "rb") as handle:
            return handle.read() if limit is None else handle.read(limit)
    except FileNotFoundError:
        raise DatasetError("file not found", ref) from None
    except OSError as exc:
        raise DatasetError("cannot read file: %s" % exc.strerror, ref) from None


def read_tail(ref: str, count: int, endpoint_url: Optional[str] = None) -> bytes:
    """The last `count` bytes (whole file when shorter): enough to see PNG's IEND or JPEG's EOI."""
    if ref.startswith("s3://"):
        return _s3_call(ref, endpoint_url, Range="bytes=-%d" % count)["Body"].read()  # type: ignore
    try:
        with open(ref, "rb") as handle:
            handle.seek(max(0, os.path.getsize(ref) - count))
            return handle.read()
    except OSError:
        raise DatasetError("file not found", ref) from None


def file_size(ref: str, endpoint_url: Optional[str] = None) -> int:
    if ref.startswith("s3://"):
        return s3_size(ref, endpoint_url)
    try:
        return os.path.getsize(ref)
    except OSError:
        raise DatasetError("file not found", ref) from None


def image_format(data: bytes) -> str:
    """'png', 'jpeg' or '' from the magic bytes."""
    if data.startswith(PNG_MAGIC):
        return "png"
    if data.startswith(JPEG_MAGIC):
        return "jpeg"
    return ""


def check_complete(data: bytes, fmt: str, ref: str) -> None:
    """cv2 decodes a truncated JPEG with a grey tail and no error: require the end-of-image marker."""
    if fmt == "jpeg":
        scan = data.find(b"\xff\xda")
        if scan < 0 or data.find(b"\xff\xd9", scan) < 0:
            raise DatasetError("corrupt or truncated JPEG image (no end-of-image marker)", ref)
    elif fmt == "png" and b"IEND" not in data[-64:]:
        raise DatasetError("corrupt or truncated PNG image (no IEND chunk)", ref)


def to_rgb8(image: np.ndarray) -> np.ndarray:
    """cv2's BGR / BGRA / grey, 8 or 16 bit -> RGB uint8."""
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    channels = image.shape[2]
    if channels == 1:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if channels == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def decode_image(data: bytes, ref: str, formats: Sequence[str] = ("png", "jpeg")) -> np.ndarray:
    """PNG/JPEG bytes -> RGB uint8 HxWx3; anything else or a broken file is a DatasetError naming `ref`."""
    fmt = image_format(data)
    if fmt not in formats:
        found = fmt.upper() if fmt else "bytes %r" % data[:8]
        raise DatasetError("expected a %s image, got %s" % (" or ".join(f.upper() for f in formats), found), ref)
    check_complete(data, fmt, ref)
    size = image_dimensions(data)
    if size is not None and max(size) > MAX_DECODED_SIDE:
        raise DatasetError("image is %dx%d pixels (from its header); at most %d a side are accepted, so it was "
                           "not decoded" % (size[0], size[1], MAX_DECODED_SIDE), ref)
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        raise DatasetError("corrupt %s image: it cannot be decoded" % fmt.upper(), ref)
    return to_rgb8(image)


def load_image(ref: str, endpoint_url: Optional[str] = None) -> np.ndarray:
    """An image as RGB uint8 HxWx3 from a local path or `s3://bucket/key`."""
    return decode_image(read_bytes(ref, endpoint_url), ref)


def load_mask(ref: str, endpoint_url: Optional[str] = None) -> np.ndarray:
    """A Lookout colour mask (PNG only: JPEG artefacts would invent colours) as RGB uint8 HxWx3."""
    return decode_image(read_bytes(ref, endpoint_url), ref, formats=("png",))


def color_to_rgb(color: str) -> Tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def mask_to_labels(mask: np.ndarray, classes: Sequence[MaskClass]) -> np.ndarray:
    """RGB mask -> HxW uint8: 0 background (and any colour not in `classes`), i for classes[i-1]."""
    packed = (mask[..., 0].astype(np.int32) << 16) | (mask[..., 1].astype(np.int32) << 8) | mask[..., 2]
    labels = np.zeros(mask.shape[:2], dtype=np.uint8)
    for index, cls in enumerate(classes, start=1):
        r, g, b = color_to_rgb(cls.color)
        labels[packed == ((r << 16) | (g << 8) | b)] = index
    return labels


def write_png(path: str, rgb: np.ndarray) -> None:
    """Write an RGB uint8 array as PNG (cv2 wants BGR)."""
    if not cv2.imwrite(path, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise DatasetError("cannot write PNG", path)


def class_lookup(sample: Sample, classes: Sequence[MaskClass]) -> np.ndarray:
    """Map a line's own colour-map order (1..k) to the project's class indices (by name)."""
    index_by_name: Dict[str, int] = {c.name: i for i, c in enumerate(classes, start=1)}
    lut = np.zeros(256, dtype=np.uint8)
    for local, cls in enumerate(sample.mask_classes, start=1):
        lut[local] = index_by_name.get(cls.name, 0)  # a class unknown to training counts as background
    return lut
