"""Triton's clients for compare_servers.py: tritonclient gRPC, one client object per thread, driven by the
same closed-loop runner as every other series (edge_runtime.bench.runner.run_load).

It runs in the Python 3.12 venv of benchmarks/triton_setup.sh: tritonclient needs protobuf 6, the main
venv has 7. compare_servers.py starts it once per transport and sends one JSON line per cell:
    {"concurrency": C, "duration": S}  ->  {"latencies": [...], "elapsed_s": .., "errors": {..},
                                            "first_error": {..}, "cpu_s": ..}
    {"quit": true}                     ->  unregisters and removes the shared-memory regions, exits
Transport `shm`: each client owns a Triton system shared-memory region (tritonclient.utils.shared_memory),
registered with the server once (with the access token Triton restricts that endpoint to), into which
it copies the frame before each request, as the agent's shm clients do with their own segments.

    python benchmarks/_triton_client.py --url 127.0.0.1:N --frame FRAME.npy --transport grpc|shm --clients 16
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, Callable, List, Tuple

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tritonclient.grpc as grpcclient  # noqa: E402
import tritonclient.utils.shared_memory as shm  # noqa: E402

from edge_runtime.bench.runner import run_load  # noqa: E402
from edge_runtime.bench.status_line import StatusLine  # noqa: E402
from edge_runtime.bench.targets import Worker  # noqa: E402

MODEL = "demo"


def grpc_worker(url: str, frame: np.ndarray) -> Worker:
    client = grpcclient.InferenceServerClient(url)
    outputs = [grpcclient.InferRequestedOutput("score"), grpcclient.InferRequestedOutput("is_anomalous")]

    def call(image: np.ndarray) -> Any:
        inp = grpcclient.InferInput("image", [1, *image.shape], "UINT8")
        inp.set_data_from_numpy(image[None])
        return client.infer(MODEL, [inp], outputs=outputs).as_numpy("score")

    return Worker(call, client.close)


def shm_worker(url: str, frame: np.ndarray, index: int) -> Tuple[Worker, Callable[[], None]]:
    client = grpcclient.InferenceServerClient(url)
    name, key = "bench_%d_%d" % (os.getpid(), index), "/triton_bench_%d_%d" % (os.getpid(), index)
    size = frame.nbytes
    handle = shm.create_shared_memory_region(name, key, size)
    auth = {"triton-grpc-protocol-triton-access-token": os.environ.get("TRITON_ACCESS_TOKEN", "")}
    client.register_system_shared_memory(name, key, size, headers=auth)
    outputs = [grpcclient.InferRequestedOutput("score"), grpcclient.InferRequestedOutput("is_anomalous")]

    def call(image: np.ndarray) -> Any:
        shm.set_shared_memory_region(handle, [image])
        inp = grpcclient.InferInput("image", [1, *image.shape], "UINT8")
        inp.set_shared_memory(name, size)
        return client.infer(MODEL, [inp], outputs=outputs).as_numpy("score")

    def cleanup() -> None:
        client.unregister_system_shared_memory(name, headers=auth)
        shm.destroy_shared_memory_region(handle)
        client.close()

    return Worker(call, lambda: None), cleanup


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--frame", required=True, help=".npy file of the RGB frame every request sends")
    parser.add_argument("--transport", choices=("grpc", "shm"), default="grpc")
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args()
    frame = np.ascontiguousarray(np.load(args.frame))
    workers: List[Worker] = []
    cleanups: List[Callable[[], None]] = []
    for i in range(args.clients):
        if args.transport == "shm":
            worker, cleanup = shm_worker(args.url, frame, i)
            cleanups.append(cleanup)
        else:
            worker = grpc_worker(args.url, frame)
            cleanups.append(worker.close)
        workers.append(worker)
    quiet = StatusLine(enabled=False)
    print(json.dumps({"ready": True}), flush=True)
    try:
        for line in sys.stdin:
            command = json.loads(line)
            if command.get("quit"):
                break
            cpu = time.process_time()
            load = run_load(workers, frame, int(command["concurrency"]), float(command["duration"]), quiet, "triton")
            print(json.dumps({"latencies": load.latencies, "elapsed_s": load.elapsed_s, "errors": load.errors,
                              "first_error": load.first_error, "cpu_s": time.process_time() - cpu}), flush=True)
    finally:
        for cleanup in cleanups:
            cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
