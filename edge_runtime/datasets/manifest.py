"""Read Lookout for Vision manifests (JSON Lines) into a `Dataset`.

Lenient where real files deviate from the documented format (relative paths, any label attribute name,
missing BACKGROUND entry, hex case, date styles, absent `human-annotated`); strict where a silent guess
would corrupt training (bad JSON, no image, no label metadata, unknown class name, a mask without its
colour map). Problems are collected per line so one run names up to `MAX_REPORTED` of them.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
from typing import Any, Dict, List, Optional, Tuple

from edge_runtime.datasets.types import Dataset, MaskClass, Sample
from edge_runtime.errors import DatasetError

MAX_MANIFEST_BYTES = 1 << 30  # Lookout: a manifest is at most 1 GB
MAX_REPORTED = 20
CLASS_LABELS = {"normal": 0, "anomaly": 1}
UNLABELED_NAMES = ("", "unlabeled", "unlabelled")
BACKGROUND_NAME = "BACKGROUND"
_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")


class _LineError(Exception):
    """A problem in one line; collected, then reported together with the others."""


def normalise_hex(value: Any) -> str:
    """`#ffffff`, `FFFFFF` -> `#FFFFFF`; anything else is an error."""
    match = _HEX.match(value) if isinstance(value, str) else None
    if not match:
        raise _LineError("expected a hex colour like '#23A436', got %r" % (value,))
    return "#" + match.group(1).upper()


def resolve_ref(ref: str, base: str) -> str:
    """Absolute local path or `s3://` URI for a reference found in a manifest at folder/prefix `base`."""
    if ref.startswith("s3://"):
        return ref
    if ref.startswith("file://"):
        ref = ref[len("file://"):]
    if base.startswith("s3://"):
        bucket_and_prefix = base[len("s3://"):]
        return "s3://" + posixpath.normpath(posixpath.join(bucket_and_prefix, ref))
    if os.path.isabs(ref):
        return os.path.normpath(ref)
    return os.path.normpath(os.path.join(base, ref))


def _find_label_attribute(line: Dict[str, Any]) -> str:
    """The attribute whose `-metadata` sibling holds the image label (any name is allowed)."""
    candidates = [k[: -len("-metadata")] for k, v in line.items()
                  if k.endswith("-metadata") and not k.endswith("-ref-metadata") and isinstance(v, dict)]
    if not candidates:
        raise _LineError("expected label metadata: an attribute such as 'anomaly-label' with an "
                         "'anomaly-label-metadata' object holding 'class-name' (keys found: %s)"
                         % ", ".join(sorted(line)))
    if len(candidates) == 1:
        return candidates[0]
    typed = [c for c in candidates if line[c + "-metadata"].get("type") == "groundtruth/image-classification"]
    if len(typed) == 1:
        return typed[0]
    named = [c for c in candidates if "class-name" in line[c + "-metadata"]]
    if len(named) == 1:
        return named[0]
    raise _LineError("expected one label attribute, found several: %s" % ", ".join(sorted(candidates)))


def _parse_label(metadata: Dict[str, Any], attribute: str) -> Optional[int]:
    name = metadata.get("class-name", "")
    if not isinstance(name, str):
        raise _LineError("expected '%s-metadata'.'class-name' to be a string, got %r" % (attribute, name))
    key = name.strip().lower()
    if key in CLASS_LABELS:
        return CLASS_LABELS[key]
    if key in UNLABELED_NAMES:
        return None
    raise _LineError("expected '%s-metadata'.'class-name' to be 'normal' or 'anomaly' (or absent for an "
                     "unlabeled image), got %r" % (attribute, name))


def _find_mask_key(line: Dict[str, Any]) -> Optional[str]:
    keys = [k for k in line if k.endswith("-ref") and k != "source-ref"]
    if not keys:
        return None
    if len(keys) > 1:
        raise _LineError("expected at most one mask reference ('...-ref'), found %s" % ", ".join(sorted(keys)))
    return keys[0]


def _parse_color_map(metadata: Any, key: str) -> Tuple[MaskClass, ...]:
    color_map = metadata.get("internal-color-map") if isinstance(metadata, dict) else None
    if not isinstance(color_map, dict):
        raise _LineError("'%s' needs '%s-metadata' with an 'internal-color-map' object mapping an index to "
                         "{class-name, hex-color}" % (key, key))
    classes: List[MaskClass] = []
    for index in sorted(color_map, key=lambda i: (not i.isdigit(), int(i) if i.isdigit() else 0, i)):
        entry = color_map[index]
        if not isinstance(entry, dict) or not isinstance(entry.get("class-name"), str) or not entry["class-name"]:
            raise _LineError("expected internal-color-map entry %r to hold a non-empty 'class-name' and "
                             "'hex-color', got %r" % (index, entry))
        color = normalise_hex(entry.get("hex-color"))
        if entry["class-name"].upper() == BACKGROUND_NAME:
            continue
        for known in classes:
            if known.color == color or known.name == entry["class-name"]:
                raise _LineError("internal-color-map uses %s twice (classes %r and %r)"
                                 % (color if known.color == color else repr(known.name), known.name,
                                    entry["class-name"]))
        classes.append(MaskClass(name=entry["class-name"], color=color))
    return tuple(classes)


def parse_line(line: Dict[str, Any], number: int, base: str) -> Tuple[Sample, str]:
    """One decoded manifest line -> (Sample, label attribute name). Raises _LineError."""
    ref = line.get("source-ref")
    if not isinstance(ref, str) or not ref.strip():
        raise _LineError("expected 'source-ref' with the image location, got %s"
                         % ("no such key" if "source-ref" not in line else repr(ref)))
    attribute = _find_label_attribute(line)
    label = _parse_label(line[attribute + "-metadata"], attribute)
    mask_key = _find_mask_key(line)
    mask_ref = None
    classes: Tuple[MaskClass, ...] = ()
    if mask_key is not None:
        value = line[mask_key]
        if not isinstance(value, str) or not value.strip():
            raise _LineError("expected '%s' to be a mask location, got %r" % (mask_key, value))
        classes = _parse_color_map(line.get(mask_key + "-metadata"), mask_key)
        mask_ref = resolve_ref(value.strip(), base)
    sample = Sample(image_ref=resolve_ref(ref.strip(), base), label=label, line=number,
                    mask_ref=mask_ref, mask_classes=classes, raw=line)
    return sample, attribute


def _merge_classes(known: List[MaskClass], new: Tuple[MaskClass, ...]) -> None:
    """Union of colour maps; the same name must keep one colour and one colour one name."""
    for cls in new:
        for old in known:
            if old == cls:
                break
            if old.name == cls.name or old.color == cls.color:
                raise _LineError("class %r with colour %s conflicts with class %r with colour %s on an "
                                 "earlier line" % (cls.name, cls.color, old.name, old.color))
        else:
            known.append(cls)


def parse_manifest_text(text: str, path: str, base: str) -> Dataset:
    """Parse manifest text (already decoded) that came from `path`; refs resolve against `base`."""
    samples: List[Sample] = []
    classes: List[MaskClass] = []
    attributes: List[str] = []
    problems: List[Tuple[int, str]] = []
    for number, raw_line in enumerate(text.splitlines(), start=1):
        if not raw_line.strip():
            continue
        try:
            try:
                decoded = json.loads(raw_line)
            except ValueError as exc:
                raise _LineError("expected one JSON object per line, got invalid JSON (%s)" % exc) from None
            if not isinstance(decoded, dict):
                raise _LineError("expected a JSON object, got %s" % type(decoded).__name__)
            sample, attribute = parse_line(decoded, number, base)
            _merge_classes(classes, sample.mask_classes)
        except _LineError as exc:
            problems.append((number, str(exc)))
            if len(problems) >= MAX_REPORTED:
                break
            continue
        samples.append(sample)
        if attribute not in attributes:
            attributes.append(attribute)
    _raise_problems(problems, path)
    if not samples:
        raise DatasetError("expected at least one JSON line describing an image, the manifest is empty", path)
    task = "segmentation" if any(s.mask_ref for s in samples) else "classification"
    return Dataset(path=path, samples=tuple(samples), task=task, label_attribute=attributes[0],
                   classes=tuple(classes))


def _raise_problems(problems: List[Tuple[int, str]], path: str) -> None:
    if not problems:
        return
    first_line, first = problems[0]
    if len(problems) == 1:
        raise DatasetError(first, path, first_line)
    more = "".join("\n  line %d: %s" % p for p in problems[1:])
    suffix = "\n  (stopped after %d problems)" % MAX_REPORTED if len(problems) >= MAX_REPORTED else ""
    raise DatasetError("%s\n  %d more problem(s):%s%s" % (first, len(problems) - 1, more, suffix),
                       path, first_line)


def decode_manifest_bytes(data: bytes, path: str) -> str:
    """UTF-8, with or without a byte-order mark."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DatasetError("expected UTF-8 text, got byte 0x%02x" % data[exc.start], path, line) from None


def read_manifest(path: str, endpoint_url: Optional[str] = None) -> Dataset:
    """Read a manifest from a local path or `s3://bucket/key`; references resolve against its folder."""
    path = str(path)
    if path.startswith("s3://"):
        from edge_runtime.datasets.images import read_s3_object, s3_size

        size = s3_size(path, endpoint_url)
        _check_size(size, path)
        data = read_s3_object(path, endpoint_url)
        base = posixpath.dirname(path)
    else:
        path = os.path.abspath(path)
        if not os.path.isfile(path):
            raise DatasetError("manifest file not found", path)
        _check_size(os.path.getsize(path), path)
        with open(path, "rb") as handle:
            data = handle.read()
        base = os.path.dirname(path)
    return parse_manifest_text(decode_manifest_bytes(data, path), path, base)


def _check_size(size: int, path: str) -> None:
    if size > MAX_MANIFEST_BYTES:
        raise DatasetError("manifest is %d bytes; Lookout manifests are at most %d bytes (1 GB)"
                           % (size, MAX_MANIFEST_BYTES), path)
