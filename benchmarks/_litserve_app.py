"""LitServe serving the same package the agent serves: the same ONNX Runtime session, preprocessing
and result rules (load_package + create_predictor), behind LitServe's dynamic batching over HTTP.

Started by compare_servers.py as its own process:
    python benchmarks/_litserve_app.py --package DIR --port N [--max-batch-size 8] [--batch-timeout 0.002]
                                       [--cpu-engine auto]
Requests are LitServe's usual JSON: {"image": base64 of packed RGB888, "width": W, "height": H}.
"""

from __future__ import annotations

import argparse
import base64
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import litserve as ls  # noqa: E402


class AnomalyAPI(ls.LitAPI):
    def __init__(self, package: str, max_batch_size: int, batch_timeout: float, cpu_engine: str = "auto") -> None:
        super().__init__(max_batch_size=max_batch_size, batch_timeout=batch_timeout)
        self.package = package
        self.cpu_engine = cpu_engine

    def setup(self, device):  # type: ignore[no-untyped-def]
        from edge_runtime.runtime.factory import PredictorOptions, create_predictor
        from edge_runtime.runtime.loader import load_package

        loaded = load_package(self.package)
        self.manifest = loaded.manifest
        options = PredictorOptions(max_batch_size=self.max_batch_size, cpu_engine=self.cpu_engine)
        self.predictor = create_predictor(loaded, options)
        print("litserve app: %s (%s)" % (self.predictor.backend, self.predictor.backend_note), flush=True)
        self.predictor.load()
        self.predictor.warmup()

    def decode_request(self, request):  # type: ignore[no-untyped-def]
        raw = base64.b64decode(request["image"])
        return np.frombuffer(raw, dtype=np.uint8).reshape(int(request["height"]), int(request["width"]), 3)

    def batch(self, inputs):  # type: ignore[no-untyped-def]
        return list(inputs)  # the predictor takes a list of frames of any sizes

    def predict(self, frames):  # type: ignore[no-untyped-def]
        return self.predictor.predict(frames)

    def unbatch(self, output):  # type: ignore[no-untyped-def]
        return list(output)

    def encode_response(self, prediction):  # type: ignore[no-untyped-def]
        from edge_runtime.runtime.postprocess import detection_result

        result = detection_result(prediction, self.manifest)
        return {"is_anomalous": result.is_anomalous, "confidence": result.confidence,
                "anomaly_score": result.anomaly_score, "anomaly_threshold": result.anomaly_threshold}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--package", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--max-batch-size", type=int, default=8)
    parser.add_argument("--batch-timeout", type=float, default=0.002)
    parser.add_argument("--cpu-engine", default="auto", help="the agent's models.cpu_engine")
    parser.add_argument("--fast-queue", action="store_true", help="LitServe's ZeroMQ queues instead of multiprocessing")
    args = parser.parse_args()
    api = AnomalyAPI(args.package, args.max_batch_size, args.batch_timeout, args.cpu_engine)
    server = ls.LitServer(api, accelerator="cpu", devices=1, workers_per_device=1, fast_queue=args.fast_queue)
    server.run(host="127.0.0.1", port=args.port, generate_client_file=False, log_level="warning",
               num_api_servers=1)


if __name__ == "__main__":
    main()
