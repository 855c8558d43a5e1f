"""A Prediction becomes a DetectAnomalyResult message, by the Lookout rules in runtime.postprocess.

Fields 5 and 6 (anomaly_score, anomaly_threshold) are always filled. Segmentation models add the
anomalies list (background first) and the RGB888 mask at the input size: in `anomaly_mask.byte_data`,
or rendered straight into the caller's shared-memory segment when one was given (the response then
carries that handle instead of bytes). Classification models return neither.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

from edge_runtime.agent.frames import MaskTarget
from edge_runtime.agent.registry import RunningModel
from edge_runtime.runtime.postprocess import DetectionResult, detection_result, render_mask
from edge_runtime.runtime.types import Prediction


def result_message(
    pb: Any, prediction: Prediction, model: RunningModel, width: int, height: int, target: Optional[MaskTarget]
) -> Tuple[Any, DetectionResult]:
    """(DetectAnomalyResult message, the wire-independent result) for one frame."""
    result = detection_result(prediction, model.manifest)
    message = pb.DetectAnomalyResult(
        is_anomalous=result.is_anomalous,
        confidence=result.confidence,
        anomaly_score=result.anomaly_score,
        anomaly_threshold=result.anomaly_threshold,
    )
    for area in result.anomalies:
        message.anomalies.add(
            name=area.name,
            pixel_anomaly=pb.PixelAnomaly(total_percentage_area=area.fraction, hex_color=area.hex_color),
        )
    if model.manifest.task != "segmentation" or prediction.class_map is None:
        return message, result
    mask = message.anomaly_mask
    mask.width, mask.height = width, height
    if target is not None:
        target.write(render_mask(prediction.class_map, model.mask_lut))
        mask.shared_memory_handle.CopyFrom(target.handle)
    else:
        mask.byte_data = render_mask(prediction.class_map, model.mask_lut).tobytes()
    return message, result
