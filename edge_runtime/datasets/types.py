"""Plain data the dataset reader hands to training and evaluation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple


@dataclass(frozen=True)
class MaskClass:
    """One entry of a segmentation manifest's internal-color-map (BACKGROUND excluded)."""

    name: str
    color: str  # upper-case #RRGGBB


@dataclass(frozen=True)
class Sample:
    """One manifest line, resolved.

    `label` is 1 for anomaly, 0 for normal, None for unlabeled (Lookout ignores those for training).
    `image_ref`/`mask_ref` are absolute local paths or `s3://bucket/key` URIs.
    `mask_classes` maps the mask's colours to class names for this line.
    """

    image_ref: str
    label: Optional[int]
    line: int
    mask_ref: Optional[str] = None
    mask_classes: Tuple[MaskClass, ...] = ()
    raw: Dict[str, Any] = field(default_factory=dict, compare=False, repr=False)  # the original JSON line


@dataclass(frozen=True)
class Dataset:
    """A parsed manifest: samples plus what was learned while reading it."""

    path: str
    samples: Tuple[Sample, ...]
    task: str  # "classification" or "segmentation" (segmentation when lines carry masks)
    label_attribute: str  # e.g. "anomaly-label"
    classes: Tuple[MaskClass, ...] = ()  # union over lines, in first-seen order

    @property
    def labeled(self) -> List[Sample]:
        return [s for s in self.samples if s.label is not None]

    def counts(self) -> Dict[str, int]:
        normal = sum(1 for s in self.samples if s.label == 0)
        anomalous = sum(1 for s in self.samples if s.label == 1)
        return {"total": len(self.samples), "normal": normal, "anomaly": anomalous,
                "unlabeled": len(self.samples) - normal - anomalous}
