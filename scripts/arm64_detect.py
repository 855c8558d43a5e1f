"""A detection end to end, run the same way on two machines, and the comparison of the two runs.

    python scripts/arm64_detect.py prepare WORK          # host: two model packages + test images
    python scripts/arm64_detect.py run WORK OUT.npz      # any machine: agent process + client
    python scripts/arm64_detect.py compare A.npz B.npz   # largest differences; fails above --tolerance

`prepare` builds a classification and a segmentation package (tests/tiny_models.py `conv_net`: random
3x3 convolutions, so real kernels run), compiles the classification one for an ARM64 CPU target
(`mcpu` carmel, Jetson Xavier's cores: what the agent checks against the CPU's features) and writes
seeded textured PNG images of several sizes. `run` starts the agent as its own process
(`python -m edge_runtime agent`) on a Unix socket, starts the models through the Lookout API (the
ARM64 build only on aarch64), and detects every image inline (the PNG file) and through shared memory
(frame and mask in the client's segment); it saves scores, decisions and masks. `compare` compares
the ARM64 build's answers with the plain model's on the other machine.
scripts/test-arm64.sh runs `run` on x86-64 and under aarch64 emulation and compares them.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Dict, List

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = {"e2e-classify": "classification", "e2e-segment": "segmentation"}
ARM64_BUILD = "e2e-classify-carmel"  # compiled from e2e-classify; served on aarch64 only
IMAGE_SIZES = [(320, 240), (96, 96), (641, 479), (200, 150)]
MASK_SHARE_LIMIT = 0.001  # masks: at most this share of pixels may differ (class ties at a boundary)


def prepare(work: str) -> None:
    import cv2

    sys.path.insert(0, ROOT)
    from tests.tiny_models import build_package

    for name, task in MODELS.items():
        build_package(os.path.join(work, "models", name), name, task, net="conv", threshold=0.55)
    _compile_for_arm64(os.path.join(work, "models", "e2e-classify"), os.path.join(work, "arm64", ARM64_BUILD))
    os.makedirs(os.path.join(work, "images"), exist_ok=True)
    rng = np.random.default_rng(18)
    for index, (width, height) in enumerate(IMAGE_SIZES):
        small = rng.integers(0, 256, (height // 8 + 1, width // 8 + 1, 3), dtype=np.uint8)
        image = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
        center = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        cv2.circle(image, center, max(8, width // 6), (40, 40, 230), -1)  # a red "defect" (BGR)
        image = np.clip(image.astype(np.int16) + rng.integers(-12, 13, image.shape), 0, 255).astype(np.uint8)
        cv2.imwrite(os.path.join(work, "images", "part-%d.png" % index), image)
    print("prepared %d models and %d images in %s" % (len(MODELS), len(IMAGE_SIZES), work))


def _compile_for_arm64(package: str, output: str) -> None:
    from edge_runtime.compiler.compile import compile_package
    from edge_runtime.compiler.targets import validate_target

    target = validate_target(None, {"Os": "LINUX", "Arch": "ARM64"}, '{"mcpu": "carmel"}')
    compile_package(package, target, output, progress=lambda _: None)


def _start_agent(models_root: str, socket_path: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=ROOT)
    command = [sys.executable, "-m", "edge_runtime", "agent", "--socket", "unix://" + socket_path,
               "--models-root", models_root]
    return subprocess.Popen(command, env=env, cwd=ROOT)


def _detect_all(client, models: Dict[str, str], images: List[str]) -> Dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
    import cv2

    out = {}  # type: Dict[str, np.ndarray]
    for model in models:
        for path in images:
            key = "%s/%s" % (model, os.path.basename(path))
            rgb = cv2.cvtColor(cv2.imread(path, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
            results = {
                "inline": client.detect(model, path),
                "shm": client.detect(model, rgb, color_order="RGB", shared_memory=True,
                                     mask_to_shared_memory=models[model] == "segmentation"),
            }
            for transport, result in results.items():
                out[key + "/" + transport + "/score"] = np.float64(result.anomaly_score)
                out[key + "/" + transport + "/confidence"] = np.float64(result.confidence)
                out[key + "/" + transport + "/anomalous"] = np.bool_(result.is_anomalous)
                if result.mask is not None:
                    out[key + "/" + transport + "/mask"] = np.array(result.mask)
    return out


def run(work: str, output: str) -> None:
    sys.path.insert(0, ROOT)
    from edge_runtime.client import EdgeAgentClient

    images = sorted(os.path.join(work, "images", name) for name in os.listdir(os.path.join(work, "images")))
    scratch = tempfile.mkdtemp(prefix="e2e-")  # a models root of its own: the agent writes its state there
    shutil.copytree(os.path.join(work, "models"), os.path.join(scratch, "models"))
    models = dict(MODELS)
    if platform.machine().lower() in ("aarch64", "arm64"):
        shutil.copytree(os.path.join(work, "arm64", ARM64_BUILD), os.path.join(scratch, "models", ARM64_BUILD))
        models[ARM64_BUILD] = "classification"
    socket_path = os.path.join(scratch, "agent.sock")
    started = time.monotonic()
    agent = _start_agent(os.path.join(scratch, "models"), socket_path)
    try:
        with EdgeAgentClient("unix://" + socket_path, timeout=120) as client:
            client.wait_for_agent(timeout=120)
            for model in models:
                client.start_model(model)
            for model in models:
                info = client.wait_until_running(model, timeout=300, poll_interval=0.2)
                print("  %s: %s" % (model, info.status_message or info.status))
            results = _detect_all(client, models, images)
        np.savez(output, **results)
        print("  %d detections (%d models x %d images x inline/shm) in %.1f s"
              % (len(models) * len(images) * 2, len(models), len(images), time.monotonic() - started))
    finally:
        agent.terminate()
        code = agent.wait(timeout=60)
        shutil.rmtree(scratch, ignore_errors=True)
    if code != 0:
        raise SystemExit("the agent exited with status %d after SIGTERM" % code)


def _largest(a: Dict[str, np.ndarray], b: Dict[str, np.ndarray], suffix: str) -> tuple:
    keys = [k for k in b if k.endswith(suffix)]
    diffs = [(abs(float(a[k]) - float(b[k])), k) for k in keys]
    return max(diffs) if diffs else (0.0, "(none)")


def _paired(a: Dict[str, np.ndarray], b: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """`a` with an entry for each of `b`'s keys: the ARM64 build's answers pair with its source model's."""
    source = ARM64_BUILD + "/"
    return {key: a[key.replace(source, "e2e-classify/", 1)] for key in b
            if key.replace(source, "e2e-classify/", 1) in a}


def compare(first: str, second: str, tolerance: float) -> int:
    a, b = dict(np.load(first)), dict(np.load(second))
    missing = sorted(set(a) - set(b)) + sorted(set(b) - set(_paired(a, b)))
    if missing:
        print("the runs differ in what they hold: %s" % missing)
        return 1
    a = _paired(a, b)
    built = sum(k.startswith(ARM64_BUILD + "/") and k.endswith("/score") for k in b)
    print("  %d answers compared (%d from the ARM64 build, against its plain model)"
          % (sum(k.endswith("/score") for k in b), built))
    failures = []
    for suffix in ("/score", "/confidence"):
        diff, key = _largest(a, b, suffix)
        print("  largest %s difference: %.3g (%s)" % (suffix[1:], diff, key))
        if diff > tolerance:
            failures.append("%s differs by %.3g > %g" % (key, diff, tolerance))
    flipped = [k for k in a if k.endswith("/anomalous") and bool(a[k]) != bool(b[k])]
    print("  decisions that differ: %d of %d" % (len(flipped), sum(k.endswith("/anomalous") for k in a)))
    failures += ["%s: decision differs" % k for k in flipped]
    pixels = differing = 0
    for key in (k for k in a if k.endswith("/mask")):
        pixels += a[key].shape[0] * a[key].shape[1]
        differing += int(np.any(a[key] != b[key], axis=-1).sum())
    share = differing / float(max(pixels, 1))
    print("  mask pixels that differ: %d of %d (%.4f%%)" % (differing, pixels, 100.0 * share))
    if share > MASK_SHARE_LIMIT:
        failures.append("%.4f%% of mask pixels differ (limit %.2f%%)" % (100 * share, 100 * MASK_SHARE_LIMIT))
    for failure in failures:
        print("  FAIL: " + failure)
    return 1 if failures else 0


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("prepare").add_argument("work")
    run_parser = sub.add_parser("run")
    run_parser.add_argument("work")
    run_parser.add_argument("output")
    compare_parser = sub.add_parser("compare")
    compare_parser.add_argument("first")
    compare_parser.add_argument("second")
    compare_parser.add_argument("--tolerance", type=float, default=1e-4)
    args = parser.parse_args(argv)
    if args.command == "prepare":
        prepare(args.work)
    elif args.command == "run":
        run(args.work, args.output)
    else:
        return compare(args.first, args.second, args.tolerance)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
