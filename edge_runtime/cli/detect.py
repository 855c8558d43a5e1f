"""`edge-runtime detect IMAGE --model NAME`: one detection by the running agent, printed as JSON."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

DEFAULT_SOCKET = "unix:///tmp/aws.iot.lookoutvision.EdgeAgent.sock"


def add_socket_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--socket", default=DEFAULT_SOCKET,
                        help="agent socket: unix:///path, a bare path, or host:port (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per call (default: %(default)s)")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("detect", help="run one image through a model served by the agent (JSON out)")
    parser.add_argument("image", metavar="IMAGE", help="PNG or JPEG file")
    parser.add_argument("--model", required=True, help="model component name (see `edge-runtime models list`)")
    add_socket_argument(parser)
    parser.add_argument("--shm", action="store_true", help="pass the frame through POSIX shared memory")
    parser.add_argument("--mask-out", metavar="PNG", default=None,
                        help="segmentation models: write the anomaly mask to this PNG file")
    parser.set_defaults(func=run_detect)


def run_detect(args: argparse.Namespace) -> int:
    from edge_runtime.client import EdgeAgentClient
    from edge_runtime.client.images import read_image_file, write_png

    frame = read_image_file(args.image)  # file errors before any connection attempt
    with EdgeAgentClient(args.socket, timeout=args.timeout) as client:
        result = client.detect(args.model, frame, color_order="RGB", shared_memory=args.shm,
                               mask_to_shared_memory=bool(args.shm and args.mask_out))
    output = {"model": args.model, "image": args.image}
    output.update(result.to_dict())
    if args.mask_out and result.mask is not None:
        output["mask"]["saved_to"] = write_png(args.mask_out, result.mask)
    print(json.dumps(output, indent=2))
    if args.mask_out and result.mask is None:
        print("error: model %s returned no mask (classification models have none); %s was not written"
              % (args.model, args.mask_out), file=sys.stderr)
        return 1
    return 0
