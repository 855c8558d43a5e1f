"""What the client returns: plain Python values, the mask as an RGB ndarray. Python 3.8 compatible."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple

import numpy as np


@dataclass(frozen=True)
class Anomaly:
    """One class present in a segmentation result; `total_percentage_area` is a fraction 0..1."""

    name: str
    total_percentage_area: float
    hex_color: str


@dataclass(frozen=True, eq=False)
class DetectResult:
    """DetectAnomalyResult as Python values. `mask` is RGB (H, W, 3) uint8 for segmentation models."""

    is_anomalous: bool
    confidence: float
    anomaly_score: float
    anomaly_threshold: float
    anomalies: Tuple[Anomaly, ...] = ()
    mask: Optional[np.ndarray] = field(default=None, repr=False)

    def to_dict(self) -> Dict[str, Any]:
        """JSON-ready; the mask is summarised by its size (write it with `--mask-out`)."""
        mask = None
        if self.mask is not None:
            mask = {"width": int(self.mask.shape[1]), "height": int(self.mask.shape[0])}
        return {
            "is_anomalous": bool(self.is_anomalous),
            "confidence": round(float(self.confidence), 6),
            "anomaly_score": round(float(self.anomaly_score), 6),
            "anomaly_threshold": round(float(self.anomaly_threshold), 6),
            "anomalies": [
                {"name": a.name, "total_percentage_area": round(a.total_percentage_area, 6), "hex_color": a.hex_color}
                for a in self.anomalies
            ],
            "mask": mask,
        }


@dataclass(frozen=True)
class ModelInfo:
    """ListModels / DescribeModel entry; `status` is the enum name (STOPPED, STARTING, RUNNING...)."""

    name: str
    status: str
    status_message: str = ""
    arn: str = ""

    def to_dict(self) -> Dict[str, str]:
        return {"model_component": self.name, "status": self.status, "status_message": self.status_message,
                "lookout_vision_model_arn": self.arn}
