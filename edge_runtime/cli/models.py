"""`edge-runtime models list|start|stop|describe|metrics`: manage the models the running agent serves."""

from __future__ import annotations

import argparse
import json
from typing import Any, List

from edge_runtime.cli.detect import add_socket_argument


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("models", help="list, start, stop or describe the agent's models; metrics")
    commands = parser.add_subparsers(dest="models_command", metavar="ACTION")
    parser.set_defaults(func=lambda args: _usage(parser))

    listing = commands.add_parser("list", help="every model under the agent's models root, with its status")
    listing.add_argument("--json", action="store_true", help="JSON instead of a table")
    start = commands.add_parser("start", help="start a model (loads in the background)")
    start.add_argument("--wait", action="store_true", help="poll until RUNNING; fail when it ends FAILED")
    start.add_argument("--wait-timeout", type=float, default=300.0, help="seconds to wait (default: %(default)s)")
    stop = commands.add_parser("stop", help="stop a running model")
    describe = commands.add_parser("describe", help="one model's status as JSON")
    metrics = commands.add_parser("metrics", help="the agent's counters and histograms")
    metrics.add_argument("--format", choices=("json", "prometheus"), default="json")
    for sub in (start, stop, describe):
        sub.add_argument("name", metavar="NAME", help="model component name")
    for sub, func in ((listing, run_list), (start, run_start), (stop, run_stop), (describe, run_describe),
                      (metrics, run_metrics)):
        add_socket_argument(sub)
        sub.set_defaults(func=func)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _client(args: argparse.Namespace) -> Any:
    from edge_runtime.client import EdgeAgentClient

    return EdgeAgentClient(args.socket, timeout=args.timeout)


def run_list(args: argparse.Namespace) -> int:
    with _client(args) as client:
        models = client.list_models()
    if args.json:
        print(json.dumps([m.to_dict() for m in models], indent=2))
        return 0
    print(format_table([[m.name, m.status, m.status_message] for m in models], ["MODEL", "STATUS", "MESSAGE"]))
    return 0


def run_start(args: argparse.Namespace) -> int:
    with _client(args) as client:
        status = client.start_model(args.name)
        print("%s: %s" % (args.name, status), flush=True)
        if args.wait:
            info = client.wait_until_running(args.name, args.wait_timeout)
            print("%s: %s%s" % (args.name, info.status, " (%s)" % info.status_message if info.status_message else ""))
    return 0


def run_stop(args: argparse.Namespace) -> int:
    with _client(args) as client:
        print("%s: %s" % (args.name, client.stop_model(args.name)))
    return 0


def run_describe(args: argparse.Namespace) -> int:
    with _client(args) as client:
        print(json.dumps(client.describe_model(args.name).to_dict(), indent=2))
    return 0


def run_metrics(args: argparse.Namespace) -> int:
    with _client(args) as client:
        if args.format == "prometheus":
            print(client.metrics_text(), end="")
        else:
            print(json.dumps(client.metrics(), indent=2, sort_keys=True))
    return 0


def format_table(rows: List[List[str]], header: List[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in [header] + rows]
    return "\n".join(lines)
