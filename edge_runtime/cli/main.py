"""`edge-runtime` entry point.

Each subsystem owns one module `edge_runtime/cli/<name>.py` exposing `register(subparsers)`; the
module adds its parser(s) and sets `func(args) -> int`. Those modules import nothing heavy at import
time, so `edge-runtime --help` works on a device without torch or onnx.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import List, Optional

from edge_runtime import __version__
from edge_runtime.errors import EdgeRuntimeError

# Order is the order shown in --help.
SUBCOMMAND_MODULES = (
    "dataset",
    "train",
    "evaluate",
    "compile",
    "package",
    "agent",
    "models",
    "detect",
    "bench",
    "server",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edge-runtime",
        description="Train, compile, package and serve visual anomaly detection models "
        "(Lookout for Vision compatible).",
    )
    parser.add_argument("--version", action="version", version="edge-runtime " + __version__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module("edge_runtime.cli." + name)
        except ModuleNotFoundError as exc:
            if exc.name == "edge_runtime.cli." + name:
                continue  # subsystem not present in this build
            raise
        module.register(subparsers)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except EdgeRuntimeError as exc:
        print("error: %s" % exc, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
