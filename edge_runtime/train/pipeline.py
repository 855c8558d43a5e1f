"""`edge-runtime train` as one library call: data plan, features, head, threshold, ONNX, package, metrics.

Everything is written into a staged package folder that only becomes --output when every step,
including the evaluation of the exported ONNX through the real runtime, has succeeded.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any, Dict, List, Tuple

import numpy as np
import torch

from edge_runtime.evaluate.calibration import reliability
from edge_runtime.evaluate.metrics import image_metrics, roc_auc
from edge_runtime.evaluate.runner import Evaluation, evaluate_package
from edge_runtime.modelpkg.manifest import MODEL_FILE, InputSpec, ModelManifest, write_manifest
from edge_runtime.progress import Progress, format_seconds
from edge_runtime.train.backbones import StageChain, build_backbone
from edge_runtime.train.calibrate import DECISION_THRESHOLD, CalibratedNet, fit_normal_only, fit_platt
from edge_runtime.train.classify import head_scores, train_classifier
from edge_runtime.train.config import TrainConfig
from edge_runtime.train.data import ImageSet, load_image_set
from edge_runtime.train.defaults import Choice, choose_image_size, prefer_tta
from edge_runtime.train.export import export_onnx, verify_onnx
from edge_runtime.train.features import FeatureCache, TapRunner, build_cache, normalise, views_for
from edge_runtime.train.heads import ClassifierNet
from edge_runtime.train.hybrid import HybridNet, explain_blend, judge_blend
from edge_runtime.train.oneclass import OneClassNet, fit_memory_bank, one_class_scores
from edge_runtime.train.package import check_output_free, staged_package, write_calibration
from edge_runtime.train.plan import ONE_CLASS, DataPlan, plan_data
from edge_runtime.train.segment import segmenter_scores, train_segmenter

ONNX_ATOL = 1e-4  # ONNX Runtime vs torch, any output element


@dataclass(frozen=True)
class TrainResult:
    package_dir: str
    manifest: ModelManifest
    evaluation: Evaluation
    seconds: float


def input_spec(source: Tuple[int, int], image_size: int) -> InputSpec:
    """Square sources get image_size x image_size; others keep their aspect ratio (short side to x8)."""
    width, height = source
    if not width or not height or width == height:
        return InputSpec(width=image_size, height=image_size)
    scale = image_size / float(max(width, height))
    short = max(32, int(round(min(width, height) * scale / 8.0)) * 8)
    return InputSpec(width=image_size, height=short) if width > height else InputSpec(width=short, height=image_size)


def _first_view(cache: FeatureCache) -> FeatureCache:
    n = cache.images_per_view
    return FeatureCache([t[:n] for t in cache.taps], cache.labels[:n], None, 1, n)


def _choose_tta(net: ClassifierNet, val_cache: FeatureCache) -> Tuple[np.ndarray, str]:
    """Mirror TTA left to the trainer: kept when the validation ROC AUC with it is at least the plain one."""
    labels = val_cache.labels[:val_cache.images_per_view].numpy()
    plain, both = head_scores(net.head, _first_view(val_cache)), head_scores(net.head, val_cache)
    keep, why = prefer_tta(roc_auc(labels, plain), roc_auc(labels, both))
    net.mirror_tta = keep
    return (both if keep else plain), why


def _add_one_class(config: TrainConfig, backbone: StageChain, net: ClassifierNet, fit_cache: FeatureCache,
                   val_cache: FeatureCache, scores: np.ndarray) -> Tuple[torch.nn.Module, np.ndarray, str]:
    """The one-class score beside the head: kept when asked for, or when validation says it helps."""
    bank, _ = fit_memory_bank(backbone, _first_view(fit_cache), config.seed, quiet=config.quiet)
    one_class = one_class_scores(OneClassNet(backbone, bank), _first_view(val_cache))
    labels = val_cache.labels[:val_cache.images_per_view].numpy()
    blend, keep, info = judge_blend(labels, scores, one_class)
    keep = keep if config.one_class_signal is None else blend.weight > 0
    why = explain_blend(info, keep, config.one_class_signal is not None)
    if not keep:
        return net, scores, why
    return HybridNet(net, bank, blend).eval(), blend.apply(scores, one_class), why


def _train_network(config: TrainConfig, backbone: StageChain, plan: DataPlan, fit: ImageSet, val: ImageSet,
                   spec: InputSpec) -> Tuple[torch.nn.Module, np.ndarray, List[float], List[str]]:
    """(network, validation scores, loss per epoch, choices made); the backbone stays frozen, its taps cached."""
    views = views_for(config.views, spec.width == spec.height)
    runner = TapRunner(backbone, spec, config.threads)  # the frozen backbone, exported to ONNX once
    fit_cache = build_cache(runner, fit.images, fit.labels, fit.masks, spec, views, quiet=config.quiet)
    classification = config.task == "classification"
    mirror = classification and config.mirror_tta is not False
    val_views = [0, 4] if mirror else [0]  # what the exported network may average
    val_cache = build_cache(runner, val.images, val.labels, val.masks, spec, val_views, quiet=config.quiet)
    del runner
    if classification:
        net, losses = train_classifier(backbone, fit_cache, val_cache, config.effective_epochs,
                                       config.effective_batch_size, config.seed, config.quiet, mirror)
        notes: List[str] = []
        if config.mirror_tta is None:
            scores, why = _choose_tta(net, val_cache)
            notes.append(why)
        else:
            scores = head_scores(net.head, val_cache)
        if config.one_class_signal is False:
            return net, scores, losses, notes
        hybrid, scores, why = _add_one_class(config, backbone, net, fit_cache, val_cache, scores)
        return hybrid, scores, losses, notes + [why]
    seg_net, losses = train_segmenter(backbone, fit_cache, len(plan.mask_classes) + 1, config.effective_epochs,
                                      config.effective_batch_size, config.seed, config.quiet)
    return seg_net, segmenter_scores(seg_net, val_cache), losses, []


def _train_one_class(config: TrainConfig, backbone: StageChain, fit: ImageSet, val: ImageSet, spec: InputSpec
                     ) -> Tuple[torch.nn.Module, Dict[str, Any]]:
    """Memory bank of the fit part's normal patches; threshold from the normal validation images' scores."""
    runner = TapRunner(backbone, spec, config.threads)
    fit_cache = build_cache(runner, fit.images, fit.labels, None, spec, [0], quiet=config.quiet)
    val_cache = build_cache(runner, val.images, val.labels, None, spec, [0], quiet=config.quiet)
    del runner
    bank, summary = fit_memory_bank(backbone, fit_cache, config.seed, quiet=config.quiet)
    del fit_cache
    segmentation = config.task == "segmentation"
    raw = one_class_scores(OneClassNet(backbone, bank, segmentation), val_cache)
    calibration = fit_normal_only(raw[val.labels == 0])
    scores = calibration.apply(raw)
    normal = scores[val.labels == 0]
    validation: Dict[str, Any] = {
        "threshold": DECISION_THRESHOLD, "images": int(len(val)), "normal_images": int(len(normal)),
        "normal_flagged": int((normal >= DECISION_THRESHOLD).sum()), "calibration": calibration.summary(),
        "one_class": summary}
    if val.labels.any():  # a few labelled anomalies: reported, not used for the threshold
        metrics = image_metrics(val.labels, scores, DECISION_THRESHOLD)
        validation.update({"F1Score": metrics.f1, "ROCAUC": metrics.roc_auc})
    return OneClassNet(backbone, bank, segmentation, calibration).eval(), validation


def _calibrate(raw_net: torch.nn.Module, labels: np.ndarray, raw: np.ndarray
               ) -> Tuple[CalibratedNet, Dict[str, Any]]:
    """Fold Platt scaling, fitted on the validation scores, into the network: its threshold becomes 0.5."""
    calibration = fit_platt(labels, raw)
    scores = calibration.apply(raw)
    metrics = image_metrics(labels, scores, DECISION_THRESHOLD)
    validation = {"threshold": DECISION_THRESHOLD, "F1Score": metrics.f1, "ROCAUC": metrics.roc_auc,
                  "ExpectedCalibrationError": reliability(labels, scores).ece, "images": int(len(labels)),
                  "calibration": calibration.summary()}
    return CalibratedNet(raw_net, calibration), validation


def _training_summary(config: TrainConfig, plan: DataPlan, spec: InputSpec, losses: List[float],
                      validation: Dict[str, Any], onnx_diff: float, seconds: float, net: torch.nn.Module,
                      chosen: List[str]) -> Dict[str, Any]:
    return {
        "train_manifest": os.path.abspath(config.train_manifest) if "://" not in config.train_manifest
        else config.train_manifest,
        "test_manifest": config.test_manifest,
        "split": "manifests" if config.test_manifest else "lookout split of one manifest (test fraction %.2f)"
        % config.test_fraction,
        "method": plan.method,
        "counts": plan.counts(),
        "source_image_size": list(plan.source_size),
        "input_size": [spec.width, spec.height],
        "seed": config.seed,
        "epochs": config.effective_epochs,
        "batch_size": config.effective_batch_size,
        "views": len(views_for(config.views, spec.width == spec.height)),
        "mirror_tta": bool(getattr(getattr(net, "net", net), "mirror_tta", False)),  # inside the calibration
        "defaults": chosen,
        "time_budget": config.time_budget,
        "validation_fraction": config.val_fraction,
        "loss_per_epoch": [round(v, 6) for v in losses],
        "validation": validation,
        "onnx_max_abs_diff": onnx_diff,
        "seconds": round(seconds, 1),
        "threads": config.threads,
        "backbone_weights": config.backbone_weights or "default",
    }


def _image_size(config: TrainConfig, plan: DataPlan) -> Choice:
    """--image-size when given, else the largest size the images and the time budget allow."""
    if config.image_size is not None:
        return Choice(config.image_size, ("--image-size %d given" % config.image_size,))
    counts = plan.counts()
    views = 1 if plan.method == ONE_CLASS else config.views
    return choose_image_size(plan.source_size, counts["train"]["total"], counts["test"]["total"], views,
                             config.task, config.time_budget, config.threads)


def train_model(config: TrainConfig) -> TrainResult:
    started = time.monotonic()
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    check_output_free(config.output)
    say = Progress("train", 1, quiet=config.quiet)
    plan = plan_data(config)  # every dataset check happens here, before any training
    counts = plan.counts()
    choice = _image_size(config, plan)
    spec = input_spec(plan.source_size, choice.image_size)
    chosen = list(choice.reasons)
    say.message("input size: %s" % "; ".join(chosen))
    say.message("%s: %d training images (%d fit, %d validation), %d test; input %dx%d"
                % (config.task, counts["train"]["total"], counts["fit"]["total"], counts["validation"]["total"],
                   counts["test"]["total"], spec.width, spec.height))
    with staged_package(config.output) as staging:
        classes = plan.mask_classes if config.task == "segmentation" else None
        fit = load_image_set(plan.fit, spec, classes, "load fit", config.quiet, config.threads)
        val = load_image_set(plan.val, spec, classes, "load validation", config.quiet, config.threads)
        backbone = build_backbone(config.backbone, (spec.height, spec.width), config.backbone_weights,
                                  fine=config.task == "segmentation" and plan.method != ONE_CLASS)
        losses: List[float] = []
        net: torch.nn.Module
        if plan.method == ONE_CLASS:
            net, validation = _train_one_class(config, backbone, fit, val, spec)
            say.message("one-class model on %d normal images (bank %d patches); threshold from %d normal "
                        "validation images, %d of them flagged"
                        % (len(fit), validation["one_class"]["bank_size"], validation["normal_images"],
                           validation["normal_flagged"]))
        else:
            raw_net, val_raw, losses, notes = _train_network(config, backbone, plan, fit, val, spec)
            chosen.extend(notes)
            for note in notes:
                say.message(note)
            net, validation = _calibrate(raw_net, val.labels, val_raw)
            say.message("calibrated on %d validation images (raw threshold %.4f -> 0.5): F1 %.4f, ROC AUC %.4f, "
                        "ECE %.4f" % (len(val), validation["calibration"]["raw_threshold"], validation["F1Score"],
                                      validation["ROCAUC"], validation["ExpectedCalibrationError"]))
        threshold = DECISION_THRESHOLD
        model_path = os.path.join(staging, MODEL_FILE)
        export_onnx(net, model_path, config.task, spec.height, spec.width)
        onnx_diff = verify_onnx(net, model_path, normalise(val.images[:4], spec).numpy(), config.task, ONNX_ATOL)
        write_calibration(staging, fit.images, config.seed)
        manifest = ModelManifest(
            name=config.name, task=config.task, input=spec, threshold=threshold, classes=plan.model_classes(),
            created=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), backbone=backbone.info.name,
            training=_training_summary(config, plan, spec, losses, validation, onnx_diff, 0.0, net, chosen))
        write_manifest(staging, manifest)
        del fit, val
        evaluation = evaluate_package(staging, plan.test_samples, threads=config.threads, quiet=config.quiet)
        seconds = time.monotonic() - started
        manifest = replace(manifest, metrics=evaluation.metrics_dict(), training=_training_summary(
            config, plan, spec, losses, validation, onnx_diff, seconds, net, chosen))
        write_manifest(staging, manifest)
    say.message("done in %s" % format_seconds(time.monotonic() - started))
    return TrainResult(os.path.abspath(config.output), manifest, evaluation, seconds)

