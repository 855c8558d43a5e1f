"""`edge-runtime agent`: run the on-device inference daemon (Lookout Edge Agent API)."""

from __future__ import annotations

import argparse


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "agent",
        help="run the on-device gRPC inference daemon (Lookout Edge Agent API)",
        description="Serve the model packages under the models root over the Lookout for Vision Edge Agent "
        "gRPC API, with dynamic batching, shared memory, health checks and metrics. Stops on SIGTERM after "
        "letting in-flight requests finish.",
    )
    parser.add_argument("--socket", help="Unix socket to listen on (default unix:///tmp/aws.iot.lookoutvision.EdgeAgent.sock)")
    parser.add_argument("--models-root", help="folder holding one model package folder per model component")
    parser.add_argument("--config", help="agent config file (YAML or JSON); flags override it")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from edge_runtime.agent.config import load_config, with_overrides
    from edge_runtime.agent.server import serve

    config = with_overrides(load_config(args.config), socket=args.socket, models_root=args.models_root)
    return serve(config)
