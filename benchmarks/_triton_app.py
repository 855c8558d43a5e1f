"""NVIDIA Triton Inference Server (nvidia-pytriton 0.7.0, the real tritonserver) serving the same package
the agent serves: load_package + create_predictor (the same engine, preprocessing and result rules)
behind Triton's dynamic batcher (max batch 8, 2 ms queue delay, like the agent).

Runs in the Python 3.12 venv made by benchmarks/triton_setup.sh, started by benchmarks/_triton.py:
    python benchmarks/_triton_app.py --package DIR --grpc-port N --http-port M --metrics-port K
                                     --access-token T [--cpu-engine auto|onnxruntime]
Inputs: `image` uint8 [H, W, 3] per request (batched by Triton to [N, H, W, 3]); outputs `score`
float32 [1] and `is_anomalous` int8 [1]. Clients use tritonclient gRPC, in-band or with Triton's
system shared memory for the image.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pytriton.decorators import batch  # noqa: E402
from pytriton.model_config import DynamicBatcher, ModelConfig, Tensor  # noqa: E402
from pytriton.triton import Triton, TritonConfig, TritonSecurityConfig  # noqa: E402

MODEL = "demo"


def load_predictor(package: str, cpu_engine: str, max_batch_size: int):  # type: ignore[no-untyped-def]
    from edge_runtime.runtime.factory import PredictorOptions, create_predictor
    from edge_runtime.runtime.loader import load_package

    loaded = load_package(package)
    predictor = create_predictor(loaded, PredictorOptions(max_batch_size=max_batch_size, cpu_engine=cpu_engine))
    predictor.load()
    predictor.warmup()
    print("triton app: %s (%s)" % (predictor.backend, predictor.backend_note), flush=True)
    return loaded.manifest, predictor


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--package", required=True)
    parser.add_argument("--grpc-port", type=int, required=True)
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--metrics-port", type=int, required=True)
    parser.add_argument("--cpu-engine", default="auto")
    parser.add_argument("--access-token", required=True, help="for Triton's restricted endpoints (shared memory)")
    parser.add_argument("--max-batch-size", type=int, default=8)
    parser.add_argument("--queue-delay-us", type=int, default=2000)
    args = parser.parse_args()
    from edge_runtime.runtime.postprocess import decide

    manifest, predictor = load_predictor(args.package, args.cpu_engine, args.max_batch_size)

    @batch
    def infer(image: np.ndarray):  # type: ignore[no-untyped-def]
        predictions = predictor.predict(list(image))
        scores = np.array([[p.score] for p in predictions], dtype=np.float32)
        flags = np.array([[decide(p.score, manifest.threshold)[0]] for p in predictions], dtype=np.int8)
        return {"score": scores, "is_anomalous": flags}

    config = TritonConfig(grpc_port=args.grpc_port, http_port=args.http_port, metrics_port=args.metrics_port,
                          grpc_address="127.0.0.1", http_address="127.0.0.1", metrics_address="127.0.0.1",
                          exit_on_error=True, log_verbose=0)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    security = TritonSecurityConfig(access_token=args.access_token)  # pytriton's default endpoint restrictions
    with Triton(config=config, security_config=security) as triton:
        triton.bind(model_name=MODEL, infer_func=infer,
                    inputs=[Tensor(name="image", dtype=np.uint8, shape=(-1, -1, 3))],
                    outputs=[Tensor(name="score", dtype=np.float32, shape=(1,)),
                             Tensor(name="is_anomalous", dtype=np.int8, shape=(1,))],
                    config=ModelConfig(max_batch_size=args.max_batch_size,
                                       batcher=DynamicBatcher(max_queue_delay_microseconds=args.queue_delay_us)),
                    strict=False)
        triton.run()
        print("triton app: serving %s on grpc 127.0.0.1:%d" % (MODEL, args.grpc_port), flush=True)
        stop.wait()
    predictor.close()


if __name__ == "__main__":
    main()
