"""`edge-runtime bench`: frames per second and latency on this box, per number of concurrent clients."""

from __future__ import annotations

import argparse
import sys
from typing import Any

DEFAULT_SOCKET = "unix:///tmp/aws.iot.lookoutvision.EdgeAgent.sock"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "bench", help="measure throughput and latency of a model (agent or in-process) at several concurrencies")
    parser.add_argument("--model", required=True, help="model component name (a label with --in-process)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--socket", default=None, help="agent Unix socket (default: %s)" % DEFAULT_SOCKET)
    where.add_argument("--address", default=None, metavar="HOST:PORT", help="agent over TCP")
    where.add_argument("--in-process", default=None, metavar="PKG",
                       help="load this model package here, with the agent's batching, no gRPC")
    parser.add_argument("--agent-pid", type=int, default=0,
                        help="agent process for CPU/memory figures (found from the Unix socket otherwise)")
    parser.add_argument("--concurrency", default="1,2,4,8,16", help="client counts (default: %(default)s)")
    image = parser.add_mutually_exclusive_group()
    image.add_argument("--image", default="", help="PNG/JPEG file every request sends")
    image.add_argument("--size", default="", metavar="WxH", help="synthetic frame size (default: 640x480)")
    parser.add_argument("--transport", choices=("inline", "shm"), default="inline",
                        help="frame in the request, or by POSIX shared memory (default: %(default)s)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per concurrency (default: %(default)s)")
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request (default: %(default)s)")
    parser.add_argument("--output", default="", metavar="DIR", help="write bench.json and PNG plots here")
    parser.add_argument("--max-batch-size", type=int, default=8, help="--in-process batcher (default: %(default)s)")
    parser.add_argument("--max-wait-ms", type=float, default=2.0, help="--in-process batcher (default: %(default)s)")
    parser.add_argument("--instances", type=int, default=1,
                        help="--in-process: sessions running batches side by side, like the agent's "
                             "models.instances (default: %(default)s)")
    parser.add_argument("--tls-ca", default="", help="--address: CA certificate of the agent's TLS certificate")
    parser.add_argument("--tls-cert", default="", help="--address: client certificate (mutual TLS)")
    parser.add_argument("--tls-key", default="", help="--address: client key (mutual TLS)")
    parser.set_defaults(func=run_bench)


def _target_spec(args: argparse.Namespace) -> Any:
    from edge_runtime.bench.config import TargetSpec

    if args.in_process:
        kind, location = "in-process", args.in_process
    elif args.address:
        kind, location = "address", args.address
    else:
        kind, location = "socket", args.socket or DEFAULT_SOCKET
    return TargetSpec(kind=kind, location=location, model=args.model, transport=args.transport,
                      agent_pid=args.agent_pid, max_batch_size=args.max_batch_size, max_wait_ms=args.max_wait_ms,
                      instances=args.instances)


def _credentials(args: argparse.Namespace) -> Any:
    if not (args.tls_ca or args.tls_cert):
        return None
    import grpc

    def read(path: str) -> bytes:
        from edge_runtime.errors import NotFound

        try:
            with open(path, "rb") as fh:
                return fh.read()
        except OSError as exc:
            raise NotFound("TLS file %s cannot be read: %s" % (path, exc.strerror or exc)) from None

    return grpc.ssl_channel_credentials(
        root_certificates=read(args.tls_ca) if args.tls_ca else None,
        private_key=read(args.tls_key) if args.tls_key else None,
        certificate_chain=read(args.tls_cert) if args.tls_cert else None,
    )


def run_bench(args: argparse.Namespace) -> int:
    from edge_runtime.bench.config import ImageSpec, RunSettings, parse_concurrency, parse_size
    from edge_runtime.bench.report import prepare_output_dir, table, write_outputs
    from edge_runtime.bench.runner import run_benchmark
    from edge_runtime.bench.status_line import StatusLine
    from edge_runtime.bench.targets import AgentTarget, InProcessTarget, make_frame

    settings = RunSettings(concurrency=parse_concurrency(args.concurrency), duration_s=args.duration,
                           warmup_s=args.warmup, request_timeout_s=args.timeout)
    spec = _target_spec(args)
    frame, image_info = make_frame(ImageSpec(path=args.image, size=parse_size(args.size) if args.size else None))
    if args.output:
        prepare_output_dir(args.output)
    target = InProcessTarget(spec) if spec.kind == "in-process" else AgentTarget(spec, args.timeout, _credentials(args))
    progress = StatusLine()
    try:
        progress.done("bench: %s via %s %s, %dx%d frames" % (spec.model, spec.kind, spec.location,
                                                             image_info["width"], image_info["height"]))
        target.open()
        result, loads = run_benchmark(target, frame, image_info, settings, progress, label=spec.model)
    finally:
        target.close()
    print(table(result))
    if args.output:
        for path in write_outputs(result, loads, args.output):
            print("wrote %s" % path, file=sys.stderr)
    return 0
