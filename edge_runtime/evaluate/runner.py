"""Evaluate a model package on labelled images through the real runtime (what the agent runs).

Images go through `load_package` + `create_predictor`, so preprocessing, the ONNX model and the
postprocessing (argmax, nearest resize to the frame size, Lookout's threshold rule) are exactly the
device's. Ground-truth masks are compared at each image's own size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

from edge_runtime.datasets.images import class_lookup, load_image, load_mask, mask_to_labels
from edge_runtime.datasets.limits import MIN_ANOMALOUS, MIN_NORMAL, check_limits
from edge_runtime.datasets.manifest import read_manifest
from edge_runtime.datasets.types import MaskClass, Sample
from edge_runtime.errors import DatasetError
from edge_runtime.evaluate.calibration import Reliability, reliability
from edge_runtime.evaluate.metrics import ImageMetrics, PixelAccumulator, PixelClassMetrics, image_metrics
from edge_runtime.modelpkg.manifest import ModelManifest
from edge_runtime.modelpkg.manifest import read_manifest as read_model_manifest
from edge_runtime.progress import Progress
from edge_runtime.runtime.factory import PredictorOptions, create_predictor
from edge_runtime.runtime.loader import load_package
from edge_runtime.runtime.postprocess import decide


@dataclass(frozen=True)
class Evaluation:
    """Everything evaluation learned: per-image scores and decisions, and the aggregated metrics."""

    manifest: ModelManifest
    samples: Sequence[Sample]
    labels: np.ndarray
    scores: np.ndarray
    anomalous: np.ndarray  # bool, the runtime's decision
    confidences: np.ndarray
    image: ImageMetrics
    pixels: Sequence[PixelClassMetrics]
    reliability: Reliability
    warnings: Tuple[str, ...] = ()

    def metrics_dict(self) -> Dict[str, Any]:
        """Lookout's metric names, plus the threshold, counts and mean AIOU (this project's additions)."""
        out: Dict[str, Any] = {
            "Precision": self.image.precision, "Recall": self.image.recall, "F1Score": self.image.f1,
            "ROCAUC": self.image.roc_auc, "AveragePrecision": self.image.average_precision,
            "Threshold": self.image.threshold, "Counts": dict(self.image.counts),
            "NumberOfTestingImages": len(self.samples),
            "ExpectedCalibrationError": self.reliability.ece,
        }
        if self.manifest.task == "segmentation":
            out["PixelAnomalyClassMetrics"] = [
                {"ClassName": p.name, "Precision": p.precision, "Recall": p.recall, "F1Score": p.f1,
                 "AIOU": p.aiou, "IoU": p.iou} for p in self.pixels]
            out["MeanAIOU"] = float(np.mean([p.aiou for p in self.pixels])) if self.pixels else 0.0
        return {k: (None if isinstance(v, float) and v != v else v) for k, v in out.items()}


def truth_map(sample: Sample, manifest: ModelManifest, shape: Sequence[int]) -> np.ndarray:
    """Ground-truth class map in the model's class order (by class name), at the image's size."""
    if not sample.mask_ref:
        return np.zeros(tuple(shape[:2]), dtype=np.uint8)
    mask = load_mask(sample.mask_ref)
    if mask.shape[:2] != tuple(shape[:2]):
        raise DatasetError("mask is %dx%d but its image is %dx%d" % (mask.shape[1], mask.shape[0], shape[1],
                                                                     shape[0]), sample.mask_ref, sample.line)
    if manifest.training.get("method") == "one-class":  # its map names no kind: every anomaly class counts
        return (mask_to_labels(mask, sample.mask_classes) > 0).astype(np.uint8)
    classes = [MaskClass(c.name, c.color) for c in manifest.anomaly_classes]
    return class_lookup(sample, classes)[mask_to_labels(mask, sample.mask_classes)]


def evaluate_package(model_dir: str, samples: Sequence[Sample], batch_size: int = 8, threads: int = 0,
                     quiet: bool = False) -> Evaluation:
    """Run every labelled sample through the package's predictor and compute Lookout's metrics."""
    samples = [s for s in samples if s.label is not None]
    if not samples:
        raise DatasetError("no labelled test images to evaluate")
    package = load_package(model_dir)
    manifest = package.manifest
    predictor = create_predictor(package, PredictorOptions(max_batch_size=batch_size,
                                                              intra_op_threads=threads, prefer_gpu=False))
    predictor.load()
    segmentation = manifest.task == "segmentation"
    pixels = PixelAccumulator([c.name for c in manifest.classes]) if segmentation else None
    scores: List[float] = []
    progress = Progress("evaluate", len(samples), quiet=quiet)
    try:
        for start in range(0, len(samples), batch_size):
            chunk = samples[start:start + batch_size]
            frames = [load_image(s.image_ref) for s in chunk]
            for sample, frame, pred in zip(chunk, frames, predictor.predict(frames)):
                scores.append(pred.score)
                if pixels is not None and pred.class_map is not None:
                    pixels.add(truth_map(sample, manifest, frame.shape), pred.class_map)
            progress.step(len(chunk))
    finally:
        predictor.close()
    labels = np.asarray([int(s.label or 0) for s in samples], dtype=np.int64)
    score_array = np.asarray(scores, dtype=np.float64)
    decisions = [decide(float(s), manifest.threshold) for s in score_array]
    return Evaluation(
        manifest=manifest, samples=samples, labels=labels, scores=score_array,
        anomalous=np.asarray([d[0] for d in decisions], dtype=bool),
        confidences=np.asarray([d[1] for d in decisions], dtype=np.float64),
        image=image_metrics(labels, score_array, manifest.threshold),
        pixels=pixels.result() if pixels is not None else [],
        reliability=reliability(labels, score_array),
        warnings=small_set_warnings(labels),
    )


def small_set_warnings(labels: np.ndarray) -> Tuple[str, ...]:
    """Below Lookout's test-set minimum the figures still come, with a warning that they are noisy."""
    anomalous = int(labels.sum())
    normal = len(labels) - anomalous
    if normal >= MIN_NORMAL["test"] and anomalous >= MIN_ANOMALOUS["test"]:
        return ()
    return ("only %d normal and %d anomalous test images (Lookout asks for at least %d of each): the metrics "
            "are noisy; one image more or less moves them by several points"
            % (normal, anomalous, MIN_NORMAL["test"]),)


def evaluate_dataset(model_dir: str, manifest_path: str, batch_size: int = 8, threads: int = 0,
                     quiet: bool = False) -> Tuple[Evaluation, int]:
    """Read and check a test manifest, evaluate; returns the evaluation and the model's training image count."""
    package_manifest = read_model_manifest(model_dir)
    dataset = read_manifest(manifest_path)
    check_limits(dataset, "evaluate")
    if package_manifest.task == "segmentation" and dataset.task != "segmentation":
        raise DatasetError("a segmentation model needs a segmentation test manifest (lines with masks)",
                           dataset.path)
    evaluation = evaluate_package(model_dir, dataset.labeled, batch_size, threads, quiet)
    counts = package_manifest.training.get("counts", {}).get("train", {})
    return evaluation, int(counts.get("total", 0) or 0)
