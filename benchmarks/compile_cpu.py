"""CPU builds on this machine: latency of the compiled model vs the unoptimised ONNX, and INT8 vs FP32.

Model: the demo package's EfficientNet-Lite0 backbone (ImageNet weights, 224x224; benchmarks/_common.py)
with its linear head refitted (logistic regression on pooled features, 400 real ELPV solar-cell images,
normal vs defective) so scores and labels mean something, threshold 0.5, and calibration.npz made from
other ELPV cells. Accuracy change is measured on those calibration images.

Latency: single-image batches, ONNX Runtime on the CPU with a fixed thread count, configurations
interleaved round by round (the machine is shared), median and p90 per configuration. Configurations:
  source/no-opt   model.onnx with graph optimisation disabled at load (the unoptimised graph)
  source/all      model.onnx as the agent loads it (ORT_ENABLE_ALL at load)
  fp32 build      model.cpu-fp32.onnx (offline extended level), loaded as the agent loads it
  int8 builds     model.cpu-int8.onnx for core-avx2 (reduce_range) and, where this CPU has VNNI,
                  cascadelake (8-bit weights), with minmax and percentile calibration ranges
Run: python benchmarks/compile_cpu.py [--runs 60] [--threads 1]; writes benchmarks/results/compile_cpu.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import time
from typing import Any, Dict, List

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import RESULTS, WORK, demo_package, log  # noqa: E402

from edge_runtime.compiler.compile import CompileSettings, compile_package  # noqa: E402
from edge_runtime.compiler.targets import validate_target  # noqa: E402
from edge_runtime.modelpkg.manifest import ModelManifest, read_manifest, write_manifest  # noqa: E402
from edge_runtime.runtime.build.cpu_features import detect_host_cpu  # noqa: E402
from edge_runtime.runtime.preprocess import preprocess_batch, resize_frame  # noqa: E402

X86 = {"Os": "LINUX", "Arch": "X86_64"}


def _elpv_frames(paths: List[str], spec: Any) -> np.ndarray:
    from edge_runtime.datasets.images import load_image

    return np.stack([resize_frame(load_image(p), spec) for p in paths])


def _pooled_features(model_path: str, frames: np.ndarray, manifest: ModelManifest) -> np.ndarray:
    """The backbone's pooled features (the head Gemm's input), by exposing that tensor as an output."""
    import onnx
    import onnxruntime as ort

    model = onnx.load(model_path)
    gemm = next(n for n in model.graph.node if n.op_type == "Gemm")
    model.graph.output.append(onnx.helper.make_tensor_value_info(gemm.input[0], onnx.TensorProto.FLOAT, None))
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    out = [sess.run([gemm.input[0]], {"image": preprocess_batch(list(frames[i:i + 16]), manifest.input)})[0]
           for i in range(0, len(frames), 16)]
    return np.concatenate(out)


def _fit_head(model_path: str, features: np.ndarray, labels: np.ndarray) -> float:
    """Logistic regression on the pooled features written into the head Gemm; returns train accuracy."""
    import onnx
    from onnx import numpy_helper
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=0.1, max_iter=5000).fit(features, labels)
    model = onnx.load(model_path)
    gemm = next(n for n in model.graph.node if n.op_type == "Gemm")
    values = {gemm.input[1]: clf.coef_.astype(np.float32).reshape(1, -1),
              gemm.input[2]: clf.intercept_.astype(np.float32).reshape(1)}
    for init in model.graph.initializer:
        if init.name in values:
            init.CopyFrom(numpy_helper.from_array(values[init.name], init.name))
    onnx.save(model, model_path)
    return float(clf.score(features, labels))


def calibrated_package(images: int, train: int = 200) -> str:
    """The demo backbone with a logistic-regression head fitted on ELPV cells (normal vs defective),
    threshold 0.5, and calibration.npz from other ELPV cells; a trained-like model without training."""
    folder = os.path.join(WORK, "packages", "demo-effnet-lite0-elpv-%d" % images)
    if os.path.isfile(os.path.join(folder, "calibration.npz")):
        return folder
    from edge_runtime.datasets.elpv import elpv_data_dir, read_elpv_labels

    tmp = folder + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(demo_package(), tmp)
    manifest = read_manifest(tmp)
    rows = read_elpv_labels(elpv_data_dir())
    normal, anomalous = [p for p, y in rows if y == 0], [p for p, y in rows if y == 1]
    log("fitting the head on %d ELPV cells" % (2 * train))
    fit_frames = _elpv_frames(normal[:train] + anomalous[:train], manifest.input)
    labels = np.array([0] * train + [1] * train)
    accuracy = _fit_head(os.path.join(tmp, "model.onnx"),
                         _pooled_features(os.path.join(tmp, "model.onnx"), fit_frames, manifest), labels)
    half = images // 2
    calib = normal[train:train + half] + anomalous[train:train + images - half]
    log("head train accuracy %.3f; calibration images: %d other ELPV cells" % (accuracy, len(calib)))
    np.savez_compressed(os.path.join(tmp, "calibration.npz"), images=_elpv_frames(calib, manifest.input))
    data = manifest.to_dict()
    data.update(threshold=0.5, name="demo-effnet-lite0-elpv")
    write_manifest(tmp, ModelManifest.from_dict(data))
    os.replace(tmp, folder)
    return folder


def compile_for(package: str, name: str, options: str, images: int) -> Dict[str, Any]:
    out = os.path.join(WORK, "compiled", name)
    target = validate_target(None, X86, options)
    start = time.perf_counter()
    result = compile_package(package, target, out, CompileSettings(max_calibration_images=images, overwrite=True),
                             progress=lambda m: log("  [%s] %s" % (name, m)))
    build = result.build
    return {"dir": out, "model": os.path.join(out, build.cpu.model_artifact), "options": options,
            "compile_seconds": round(time.perf_counter() - start, 1), "accuracy": dict(build.accuracy),
            "quantization": build.cpu.onnxruntime.get("quantization"), "required": list(build.cpu.required)}


def session(path: str, level: str, threads: int) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    start = time.perf_counter()
    sess = ort.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])
    return sess, time.perf_counter() - start


def measure(configs: Dict[str, Any], batch: np.ndarray, runs: int) -> Dict[str, Dict[str, float]]:
    times: Dict[str, List[float]] = {name: [] for name in configs}
    for sess, _ in configs.values():  # warm-up
        for _ in range(5):
            sess.run(["score"], {"image": batch})
    for round_ in range(runs):
        for name, (sess, _) in configs.items():
            start = time.perf_counter()
            sess.run(["score"], {"image": batch})
            times[name].append((time.perf_counter() - start) * 1000.0)
        if (round_ + 1) % 20 == 0:
            log("  round %d/%d" % (round_ + 1, runs))
    out = {}
    for name, values in times.items():
        values.sort()
        out[name] = {"median_ms": round(statistics.median(values), 3),
                     "p90_ms": round(values[int(0.9 * (len(values) - 1))], 3),
                     "session_create_ms": round(configs[name][1] * 1000.0, 1)}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--images", type=int, default=64, help="ELPV calibration images")
    args = parser.parse_args()
    package = calibrated_package(args.images)
    host = detect_host_cpu()
    builds = {"fp32": compile_for(package, "fp32", '{"mcpu": "core-avx2"}', args.images),
              "int8 core-avx2": compile_for(package, "int8-avx2", '{"mcpu": "core-avx2", "precision": "int8"}',
                                            args.images)}
    vnni = "cascadelake" if "avx512_vnni" in host.features else "core-avx2"
    if vnni == "cascadelake":
        builds["int8 cascadelake"] = compile_for(package, "int8-vnni",
                                                 '{"mcpu": "cascadelake", "precision": "int8"}', args.images)
    builds["int8 %s percentile" % vnni] = compile_for(
        package, "int8-pct", '{"mcpu": "%s", "precision": "int8", "calibration-method": "percentile"}' % vnni,
        args.images)
    source = os.path.join(package, "model.onnx")
    configs = {"source/no-opt": session(source, "ORT_DISABLE_ALL", args.threads),
               "source/all": session(source, "ORT_ENABLE_ALL", args.threads)}
    for name, build in builds.items():
        configs[name] = session(build["model"], "ORT_ENABLE_ALL", args.threads)
    images = np.load(os.path.join(package, "calibration.npz"))["images"]
    batch = preprocess_batch([images[0]], read_manifest(package).input)
    log("measuring %d rounds, batch 1, %d thread(s)" % (args.runs, args.threads))
    latency = measure(configs, batch, args.runs)
    report = summarise(latency, builds, args, host)
    write(report)
    return 0


def summarise(latency: Dict[str, Dict[str, float]], builds: Dict[str, Any], args: Any, host: Any) -> Dict[str, Any]:
    med = {k: v["median_ms"] for k, v in latency.items()}
    ratios = {"fp32_build_vs_source_no_opt": round(med["fp32"] / med["source/no-opt"], 3),
              "fp32_build_vs_source_loaded_all": round(med["fp32"] / med["source/all"], 3)}
    for name in builds:
        if name.startswith("int8"):
            ratios["%s_vs_fp32_build" % name.replace(" ", "_")] = round(med[name] / med["fp32"], 3)
    for key, value in ratios.items():
        print("%-40s %.3f" % (key, value))
    for name, build in builds.items():
        acc = build["accuracy"]
        print("%-28s median %7.2f ms  score MAE %.4f  max|diff| %.4f  labels agree %.1f%% (%d images)"
              % (name, med[name], acc["score_mae"], acc["score_max_abs_diff"], 100 * acc["label_agreement"],
                 acc["images"]))
    return {"model": "EfficientNet-Lite0 backbone + linear head, 224x224 (benchmarks/_common.py demo_package)",
            "machine": {"python": platform.python_version(), "cpu_arch": host.arch,
                        "vnni": "avx512_vnni" in host.features, "amx_int8": "amx_int8" in host.features,
                        "cores": os.cpu_count()},
            "settings": {"runs": args.runs, "threads": args.threads, "batch": 1, "calibration_images": args.images},
            "latency": latency, "ratios": ratios,
            "builds": {k: {kk: vv for kk, vv in v.items() if kk not in ("dir", "model")} for k, v in builds.items()}}


def write(report: Dict[str, Any]) -> None:
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "compile_cpu.json"), "w", encoding="utf-8") as fh:
        json.dump(report, fh, indent=2, sort_keys=True)
        fh.write("\n")
    lines = ["# CPU builds: latency and accuracy change", "",
             "%s; %s, %d cores shared with other jobs; batch 1, %d intra-op thread(s), %d interleaved rounds; "
             "medians." % (report["model"], report["machine"]["cpu_arch"], report["machine"]["cores"],
                           report["settings"]["threads"], report["settings"]["runs"]), "",
             "| configuration | median ms | p90 ms | session create ms |", "|---|---|---|---|"]
    for name, row in report["latency"].items():
        lines.append("| %s | %.2f | %.2f | %.0f |" % (name, row["median_ms"], row["p90_ms"], row["session_create_ms"]))
    lines += ["", "| ratio | value |", "|---|---|"]
    lines += ["| %s | %.3f |" % kv for kv in report["ratios"].items()]
    lines += ["", "| build | score MAE | max abs diff | label agreement | images |", "|---|---|---|---|---|"]
    for name, build in report["builds"].items():
        acc = build["accuracy"]
        lines.append("| %s | %.5f | %.5f | %.1f%% | %d |" % (name, acc["score_mae"], acc["score_max_abs_diff"],
                                                          100 * acc["label_agreement"], acc["images"]))
    lines += ["", "source/no-opt is the graph as exported; source/all is what the agent does with a plain package "
              "(ONNX Runtime optimises at every load), so against it the offline build can gain little: the "
              "fp32_build_vs_source_loaded_all ratio and the session creation times show how little.",
              "", "Accuracy change: against the FP32 source on the calibration images, threshold 0.5. Post-training "
              "INT8 of this swish-activation backbone with per-tensor activation ranges is lossy; edge-build.json "
              "records the change so a deployer can judge it. CPU builds default to FP32."]
    with open(os.path.join(RESULTS, "compile_cpu.md"), "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    log("wrote %s/compile_cpu.{json,md}" % RESULTS)


if __name__ == "__main__":
    sys.exit(main())
