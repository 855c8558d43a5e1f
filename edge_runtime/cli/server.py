"""`edge-runtime server`: the self-hosted Lookout for Vision API (boto3 scripts point endpoint_url here)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Tuple


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "server", help="serve the Lookout for Vision API (2020-11-20) for boto3 scripts",
        description="Serve the Lookout for Vision REST API. State lives in DATA/state.db, objects in DATA/objects "
                    "(bucket/key) unless --s3-endpoint or --s3 sends them to S3.")
    parser.add_argument("--address", default="127.0.0.1:8080", help="HOST:PORT to bind (default 127.0.0.1:8080)")
    parser.add_argument("--data", default=None, help="data folder (default: $EDGE_RUNTIME_HOME or ~/.edge-runtime)")
    parser.add_argument("--db", default=None, help="state database (default DATA/state.db, shared with packaging)")
    parser.add_argument("--s3-endpoint", default=None, help="S3-compatible endpoint for datasets and outputs")
    parser.add_argument("--s3", action="store_true", help="keep datasets and outputs in AWS S3 (default endpoint)")
    parser.add_argument("--region", default="us-east-1", help="region shown in ARNs (default us-east-1)")
    parser.add_argument("--account", default="123456789012", help="account id shown in ARNs")
    parser.add_argument("--idle-timeout", type=float, default=60.0,
                        help="close a connection silent this many seconds, also mid-request (default 60)")
    parser.add_argument("--max-connections", type=int, default=64,
                        help="connections served at once, one thread each; more get 503 (default 64)")
    parser.add_argument("--access-keys", default=None,
                        help="file of accepted access keys ('ID:SECRET' lines or an AWS credentials file); default: "
                             "$EDGE_RUNTIME_SERVER_ACCESS_KEYS, else a key pair generated once in "
                             "DATA/server-credentials")
    parser.add_argument("--no-auth", action="store_true",
                        help="accept unsigned requests (only allowed when --address is a loopback address)")
    parser.add_argument("--console-bucket", default=None,
                        help="bucket for the web console's uploads, masks, trials and model outputs (default "
                             "edge-runtime-console; with --s3/--s3-endpoint it must exist and be writable)")
    parser.add_argument("--train-epochs", type=int, default=None, help="epochs for CreateModel (trainer default)")
    parser.add_argument("--train-image-size", type=int, default=None, help="training image size (trainer default)")
    parser.add_argument("--trainer", default=None, help="module:function that trains a TrainingJob (advanced)")
    parser.add_argument("--print-aws-data-path", action="store_true",
                        help="print the botocore data folder holding the Lookout for Vision API model (for "
                        "AWS_DATA_PATH, so boto3 can build a lookoutvision client) and exit")
    parser.set_defaults(func=run_server)


def _address(text: str) -> Tuple[str, int]:
    from edge_runtime.errors import InvalidArgument

    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise InvalidArgument("--address must be HOST:PORT, got %r" % text)
    return host.strip("[]"), int(port)


def _auth(args: argparse.Namespace, data_dir: str) -> Any:
    from edge_runtime.server import credentials
    from edge_runtime.server.auth import AuthConfig

    if args.no_auth:
        return AuthConfig(enabled=False)
    if args.access_keys:
        return AuthConfig(credentials.read_access_keys(args.access_keys))
    if os.environ.get(credentials.ENV_KEYS):
        return AuthConfig(credentials.parse_access_keys(os.environ[credentials.ENV_KEYS], credentials.ENV_KEYS))
    path = os.path.join(data_dir, "server-credentials")
    keys = credentials.load_or_create(path)
    print("access keys: %s (profile %s); use AWS_SHARED_CREDENTIALS_FILE=%s AWS_PROFILE=%s"
          % (path, credentials.PROFILE, path, credentials.PROFILE), file=sys.stderr)
    return AuthConfig(keys)


def build_config(args: argparse.Namespace) -> Any:
    from edge_runtime.server.arns import ArnScope
    from edge_runtime.server.config import ServerConfig, StorageConfig, TrainingConfig
    from edge_runtime.server.store import default_home

    host, port = _address(args.address)
    data_dir = os.path.abspath(args.data or default_home())
    storage = StorageConfig(data_dir=data_dir, db_path=args.db or "", use_s3=args.s3,
                            s3_endpoint_url=args.s3_endpoint)
    training = TrainingConfig(epochs=args.train_epochs, image_size=args.train_image_size,
                              **({"trainer": args.trainer} if args.trainer else {}))
    return ServerConfig(host=host, port=port, auth=_auth(args, data_dir), arns=ArnScope(args.region, args.account),
                        storage=storage, training=training, idle_timeout_s=args.idle_timeout,
                        max_connections=args.max_connections)


def run_server(args: argparse.Namespace) -> int:
    if args.print_aws_data_path:
        from edge_runtime.server.model import AWS_DATA_PATH

        print(AWS_DATA_PATH)
        return 0
    from edge_runtime.console import PREFIX, console_mount, console_mount_with
    from edge_runtime.server.app import serve

    mount = console_mount_with(args.console_bucket) if args.console_bucket else console_mount
    return serve(build_config(args), {PREFIX: mount})
