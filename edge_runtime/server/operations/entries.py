"""Dataset entries: manifest lines as the store keeps them, and how manifests become entries.

An entry is one JSON line with its references made absolute (`s3://...` as users see them, or an
absolute local path), keyed by its `source-ref`; its label and creation date are kept beside it for
the ListDatasetEntries filters. Parsing is the datasets subsystem's (`parse_manifest_text`), so the
server accepts exactly what training accepts.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from dataclasses import dataclass
from typing import Any, Callable

from edge_runtime.datasets.manifest import parse_manifest_text
from edge_runtime.datasets.types import Dataset, Sample
from edge_runtime.errors import DatasetError, InvalidArgument

_DATE_FORMATS = ("%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S", "%a %b %d %Y %H:%M:%S", "%Y-%m-%d")


@dataclass(frozen=True)
class Entry:
    source_ref: str
    label: int | None
    created: float
    line: str


def parse_date(text: Any, fallback: float) -> float:
    """`creation-date` as Lookout and Ground Truth wrote it (ISO, or JavaScript's Date string); UTC."""
    if not isinstance(text, str) or not text.strip():
        return fallback
    value = text.strip().replace("Z", "+00:00")
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        parsed = None
        head = value.split(" GMT")[0].split(" (")[0]
        for fmt in _DATE_FORMATS:
            try:
                parsed = dt.datetime.strptime(head, fmt)
                break
            except ValueError:
                continue
    if parsed is None:
        return fallback
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.timestamp()


def _mask_key(line: dict[str, Any]) -> str | None:
    keys = [k for k in line if k.endswith("-ref") and k != "source-ref"]
    return keys[0] if keys else None


def _published(publish: Callable[[str], str], ref: str, sample: Sample, key: str) -> str:
    """The store's form of a reference, or a DatasetError naming the line and key (not server paths)."""
    try:
        return publish(ref)
    except InvalidArgument as exc:
        raise DatasetError("line %d: %s: %s" % (sample.line, key, exc)) from None


def entry_from_sample(sample: Sample, label_attribute: str, publish: Callable[[str], str],
                      now: float) -> Entry:
    line = dict(sample.raw)
    line["source-ref"] = _published(publish, sample.image_ref, sample, "source-ref")
    mask_key = _mask_key(line)
    if mask_key and sample.mask_ref:
        line[mask_key] = _published(publish, sample.mask_ref, sample, mask_key)
    metadata = line.get(label_attribute + "-metadata") or {}
    created = parse_date(metadata.get("creation-date") if isinstance(metadata, dict) else None, now)
    return Entry(line["source-ref"], sample.label, created, json.dumps(line, separators=(",", ":")))


def entries_from_dataset(dataset: Dataset, publish: Callable[[str], str]) -> list[Entry]:
    """One entry per source-ref; a later line for the same image replaces an earlier one."""
    now = time.time()
    by_ref: dict[str, Entry] = {}
    for sample in dataset.samples:
        entry = entry_from_sample(sample, _label_attribute(sample, dataset.label_attribute), publish, now)
        by_ref[entry.source_ref] = entry
    return list(by_ref.values())


def _label_attribute(sample: Sample, default: str) -> str:
    for key, value in sample.raw.items():
        if key.endswith("-metadata") and not key.endswith("-ref-metadata") and isinstance(value, dict) \
                and "class-name" in value:
            return key[: -len("-metadata")]
    return default


def parse_changes(text: str, base: str) -> Dataset:
    """UpdateDatasetEntries' Changes (JSON Lines) with the manifest reader's rules; DatasetError on problems."""
    return parse_manifest_text(text, "Changes", base)


def is_absolute_ref(ref: str) -> bool:
    return ref.startswith("s3://") or os.path.isabs(ref)


def map_refs(line: dict[str, Any], convert: Callable[[str], str]) -> dict[str, Any]:
    """A copy of a manifest line with its image and mask references converted."""
    line = dict(line)
    line["source-ref"] = convert(line["source-ref"])
    mask_key = _mask_key(line)
    if mask_key and isinstance(line[mask_key], str):
        line[mask_key] = convert(line[mask_key])
    return line


def refs_of(line: dict[str, Any]) -> list[str]:
    mask_key = _mask_key(line)
    mask = line.get(mask_key) if mask_key else None
    return [line["source-ref"]] + ([mask] if isinstance(mask, str) else [])


def write_manifest(path: str, lines: list[str], localize: Callable[[str], str]) -> str:
    """A manifest file of stored entries with references a local reader can open; returns `path`."""
    with open(path, "w", encoding="utf-8") as handle:
        for text in lines:
            handle.write(json.dumps(map_refs(json.loads(text), localize)) + "\n")
    return path
