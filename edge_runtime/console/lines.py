"""Manifest lines as the console writes them: Lookout's classification and segmentation lines."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Sequence

JOB = "edge-runtime-console"
CLASSIFICATION = "groundtruth/image-classification"
SEGMENTATION = "groundtruth/semantic-segmentation"


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def line_for(ref: str, label: int | None, mask_ref: str | None = None,
             classes: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
    """`label` None: unlabelled (kept in the dataset, left out of training); `classes` (name, #colour) are
    the mask's colour map 1..n, in that order."""
    created = _now()
    line: dict[str, Any] = {"source-ref": ref}
    if label is None:
        line["anomaly-label-metadata"] = {"class-name": "unlabeled", "human-annotated": "no",
                                          "creation-date": created, "job-name": JOB, "type": CLASSIFICATION}
        return line
    line["anomaly-label"] = label
    line["anomaly-label-metadata"] = {"class-name": "anomaly" if label else "normal", "confidence": 1,
                                      "type": CLASSIFICATION, "human-annotated": "yes", "creation-date": created,
                                      "job-name": JOB}
    if mask_ref is not None:
        color_map = {"0": {"class-name": "BACKGROUND", "hex-color": "#ffffff", "confidence": 0.0}}
        for index, (name, color) in enumerate(classes, start=1):
            color_map[str(index)] = {"class-name": name, "hex-color": color.lower(), "confidence": 0.0}
        line["anomaly-mask-ref"] = mask_ref
        line["anomaly-mask-ref-metadata"] = {"internal-color-map": color_map, "type": SEGMENTATION,
                                             "human-annotated": "yes", "creation-date": created, "job-name": JOB}
    return line


def changes(lines: Sequence[dict[str, Any]]) -> bytes:
    """UpdateDatasetEntries' Changes: JSON Lines."""
    return ("\n".join(json.dumps(line, separators=(",", ":")) for line in lines) + "\n").encode("utf-8")


def mask_of(line: dict[str, Any]) -> tuple[str | None, list[tuple[str, str]]]:
    """(mask reference, [(class name, colour)] in colour-map order) of a stored line."""
    keys = [k for k in line if k.endswith("-ref") and k != "source-ref"]
    if not keys or not isinstance(line.get(keys[0]), str):
        return None, []
    color_map = (line.get(keys[0] + "-metadata") or {}).get("internal-color-map") or {}
    classes = []
    for index in sorted((k for k in color_map if k.isdigit() and k != "0"), key=int):
        entry = color_map[index]
        classes.append((str(entry.get("class-name")), str(entry.get("hex-color", "#000000"))))
    return str(line[keys[0]]), classes


def label_of(line: dict[str, Any]) -> int | None:
    value = line.get("anomaly-label")
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if value in (0, 1):
        return int(value)
    name = str((line.get("anomaly-label-metadata") or {}).get("class-name", "")).lower()
    return {"normal": 0, "anomaly": 1}.get(name)
