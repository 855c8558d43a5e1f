"""What the one-class branch beside a classification head costs at inference (hybrid.py): the same
classifier (EfficientNet-Lite0 backbone, pooled head, mirror TTA as the defaults ship it) exported to ONNX
with and without the memory-bank branch (BANK_SIZE entries, nearest neighbour at every stride-8
position of the plain image), timed in-process on ONNX Runtime in interleaved rounds.

    python benchmarks/hybrid_cost.py --rounds 5

The head's weights are untrained and the bank holds random descriptors of the real shape: the graph,
its shapes and so its latency are those of a trained model (no op depends on the values).
Prints the median latency per series and the median of the per-round ratios hybrid/head; writes
benchmarks/results/hybrid_cost.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from typing import Any, Dict, List

import numpy as np
import torch
from _common import RESULTS, log, machine_note

from edge_runtime.train.backbones import build_backbone
from edge_runtime.train.export import export_onnx
from edge_runtime.train.heads import ClassifierNet, PooledClassifierHead
from edge_runtime.train.hybrid import Blend, HybridNet
from edge_runtime.train.oneclass import BANK_SIZE, TAPS_USED


def _export(size: int, folder: str, threads: int) -> Dict[str, Any]:
    import onnxruntime as ort

    torch.manual_seed(0)
    backbone = build_backbone("efficientnet-lite0", size)
    net = ClassifierNet(backbone, PooledClassifierHead(backbone.info.tap_channels), mirror_tta=True).eval()
    dim = sum(backbone.info.tap_channels[:TAPS_USED])
    bank = torch.rand(BANK_SIZE, dim)
    hybrid = HybridNet(net, bank, Blend(weight=0.5, mean=0.0, std=1.0)).eval()
    out: Dict[str, Any] = {}
    for name, model in (("head", net), ("hybrid", hybrid)):
        path = os.path.join(folder, "%s_%d.onnx" % (name, size))
        export_onnx(model, path, "classification", size, size)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        out[name] = (ort.InferenceSession(path, options, providers=["CPUExecutionProvider"]),
                     os.path.getsize(path))
    return out


def _time(session: Any, batch: np.ndarray, repeats: int) -> float:
    name = session.get_inputs()[0].name
    session.run(None, {name: batch})
    start = time.perf_counter()
    for _ in range(repeats):
        session.run(None, {name: batch})
    return (time.perf_counter() - start) / repeats * 1000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3, help="runs per series per round")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sizes", type=int, nargs="+", default=[300, 224])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args()
    rows: List[Dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as folder:
        for size in args.sizes:
            sessions = _export(size, folder, args.threads)
            for batch_size in args.batches:
                batch = np.random.default_rng(0).random((batch_size, 3, size, size), dtype=np.float32)
                head: List[float] = []
                hybrid: List[float] = []
                for _ in range(args.rounds):  # interleaved: both series see the same load
                    head.append(_time(sessions["head"][0], batch, args.repeats))
                    hybrid.append(_time(sessions["hybrid"][0], batch, args.repeats))
                ratios = [b / a for a, b in zip(head, hybrid)]
                row = {"size": size, "batch": batch_size, "head_ms": round(statistics.median(head), 2),
                       "hybrid_ms": round(statistics.median(hybrid), 2),
                       "ratio_hybrid_over_head": round(statistics.median(ratios), 3),
                       "ratio_spread": [round(min(ratios), 3), round(max(ratios), 3)],
                       "head_onnx_bytes": sessions["head"][1], "hybrid_onnx_bytes": sessions["hybrid"][1]}
                log("%d px batch %d: head %.1f ms, hybrid %.1f ms, ratio %.3f (%.3f-%.3f); onnx %.2f -> %.2f MB" % (
                    size, batch_size, row["head_ms"], row["hybrid_ms"], row["ratio_hybrid_over_head"],
                    min(ratios), max(ratios), row["head_onnx_bytes"] / 1e6, row["hybrid_onnx_bytes"] / 1e6))
                rows.append(row)
    result = {"bank_size": BANK_SIZE, "mirror_tta": True, "threads": args.threads, "rounds": args.rounds,
              "repeats": args.repeats, "rows": rows, "machine": machine_note(),
              "load_average": list(os.getloadavg())}
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "hybrid_cost.json"), "w") as f:
        json.dump(result, f, indent=2)
    lines = ["# One-class branch cost (hybrid/head, ONNX Runtime CPU, %d threads, load %.2f)" % (
        args.threads, os.getloadavg()[0]), "",
        "| input | batch | head ms | hybrid ms | ratio (min-max) | ONNX MB head -> hybrid |",
        "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append("| %d px | %d | %.1f | %.1f | %.3f (%.3f-%.3f) | %.2f -> %.2f |" % (
            r["size"], r["batch"], r["head_ms"], r["hybrid_ms"], r["ratio_hybrid_over_head"], r["ratio_spread"][0],
            r["ratio_spread"][1], r["head_onnx_bytes"] / 1e6, r["hybrid_onnx_bytes"] / 1e6))
    with open(os.path.join(RESULTS, "hybrid_cost.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
