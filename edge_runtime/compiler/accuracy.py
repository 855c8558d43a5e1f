"""How much a build changes the model's answers: scores and labels against the FP32 source model.

Measured with ONNX Runtime on the package's calibration images (preprocessed as serving does), and
written into edge-build.json so whoever deploys an INT8 build sees what it costs.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import numpy as np

from edge_runtime.errors import require
from edge_runtime.modelpkg.manifest import INPUT_NAME, SCORE_OUTPUT, SEG_OUTPUT, ModelManifest
from edge_runtime.runtime.build.calibration import preprocessed_batches
from edge_runtime.runtime.postprocess import decide


def run_model(model_path: str, images: np.ndarray, manifest: ModelManifest, reference: bool = False,
              batch_size: int = 8) -> Dict[str, np.ndarray]:
    """Outputs for every image; `reference` runs the graph as written (no graph optimisation)."""
    ort = require("onnxruntime", "compile")
    options = ort.SessionOptions()
    if reference:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(model_path, sess_options=options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs() if o.name in (SCORE_OUTPUT, SEG_OUTPUT)]
    collected: Dict[str, List[np.ndarray]] = {n: [] for n in names}
    for batch in preprocessed_batches(images, manifest.input, batch_size):
        for name, value in zip(names, session.run(names, {INPUT_NAME: batch})):
            collected[name].append(np.asarray(value))
    return {n: np.concatenate(v) for n, v in collected.items()}


def compare_outputs(reference: Dict[str, np.ndarray], candidate: Dict[str, np.ndarray],
                    threshold: float) -> Dict[str, Any]:
    """Score MAE / max abs diff, label agreement at the threshold; seg: per-pixel argmax agreement."""
    ref = reference[SCORE_OUTPUT].reshape(-1).astype(np.float64)
    new = candidate[SCORE_OUTPUT].reshape(-1).astype(np.float64)
    diff = np.abs(ref - new)
    ref_labels = np.array([decide(float(s), threshold)[0] for s in ref])
    new_labels = np.array([decide(float(s), threshold)[0] for s in new])
    result: Dict[str, Any] = {
        "images": int(len(ref)),
        "threshold": float(threshold),
        "score_mae": float(diff.mean()),
        "score_max_abs_diff": float(diff.max()),
        "label_agreement": float((ref_labels == new_labels).mean()),
        "labels_changed": int((ref_labels != new_labels).sum()),
    }
    if SEG_OUTPUT in reference and SEG_OUTPUT in candidate:
        agree = np.argmax(reference[SEG_OUTPUT], axis=1) == np.argmax(candidate[SEG_OUTPUT], axis=1)
        result["seg_pixel_agreement"] = float(agree.mean())
    return result


def accuracy_change(reference_model: str, candidate_model: str, images: Optional[np.ndarray],
                    manifest: ModelManifest) -> Dict[str, Any]:
    """The change `candidate_model` makes against `reference_model`, or why it was not measured."""
    if images is None:
        return {"measured": False, "reason": "the package has no calibration.npz to measure on"}
    reference = run_model(reference_model, images, manifest, reference=True)
    candidate = run_model(candidate_model, images, manifest)
    result = compare_outputs(reference, candidate, manifest.threshold)
    result.update(measured=True, reference="FP32 source model (%s), graph as written" % manifest.model_file,
                  data="calibration.npz images, preprocessed as serving does")
    return result
