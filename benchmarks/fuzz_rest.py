"""Fuzz the self-hosted Lookout REST server with a raw HTTP client: bad and huge Content-Length,
chunked bodies, garbage request lines, unsigned, badly signed and wrong-region requests, and signed
requests with random JSON bodies; after every fault a good signed ListProjects must return 200.

    python benchmarks/fuzz_rest.py --requests 2000

Prints (and writes to benchmarks/results/fuzz_rest.json) requests sent, statuses seen, hangs (no
answer within 10 s to a complete request), wrong answers (a 5xx for a client's fault, or a complete
request closed without a status line), good requests lost, and this process's RSS (server and fuzzer
share it) at start and end.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import tempfile
import threading
import time
from collections import Counter
from typing import Any, Dict, Optional, Tuple

from _common import RESULTS, log
from _fuzz_cases import rss_mb

KEY, SECRET = "AKIAEDGEFUZZ", "edge-fuzz-secret"
PATHS = ["/2020-11-20/projects", "/2020-11-20/projects/p/datasets/train/entries", "/2020-11-20/tags/x%2Fy",
         "/2020-11-20/projects/%2e%2e/models", "/" + "a" * 5000, "/2020-11-20/projects/p/models/1/detect"]


def _raw(address: Tuple[str, int], data: bytes, timeout: float = 10.0) -> Optional[bytes]:
    """The status line the server answered (b"" when it closed without one, None on timeout)."""
    with socket.create_connection(address, timeout=timeout) as conn:
        try:
            conn.sendall(data)
            conn.shutdown(socket.SHUT_WR)
            reply = b""
            while b"\r\n" not in reply:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                reply += chunk
            return reply.split(b"\r\n", 1)[0]
        except socket.timeout:
            return None
        except OSError:
            return b""


def _signed(address: Tuple[str, int], method: str, path: str, body: bytes, region: str = "us-east-1") -> bytes:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = "http://%s:%d%s" % (address[0], address[1], path)
    request = AWSRequest(method=method, url=url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(KEY, SECRET), "lookoutvision", region).add_auth(request)
    head = "%s %s HTTP/1.1\r\nHost: %s:%d\r\n" % (method, path, address[0], address[1])
    head += "".join("%s: %s\r\n" % (k, v) for k, v in request.headers.items())
    return (head + "Content-Length: %d\r\n\r\n" % len(body)).encode() + body


def _random_json(rng: random.Random) -> bytes:
    values = [None, True, -1, 2 ** 70, 1.5, "", "x" * rng.randrange(300), [], {}, ["a"], {"S3Object": 5}]
    keys = ["ProjectName", "DatasetType", "Changes", "MaxResults", "ClientToken", "OutputConfig", "Tags"]
    doc = {k: rng.choice(values) for k in rng.sample(keys, rng.randrange(len(keys)))}
    return json.dumps(doc).encode() if rng.random() < 0.8 else os.urandom(rng.randrange(1, 200))


def fault(rng: random.Random, address: Tuple[str, int]) -> Tuple[str, bytes, bool]:
    """(kind, bytes to send, complete: a well-formed request that must get a status line)."""
    pick = rng.randrange(6)
    path = rng.choice(PATHS)
    if pick == 0:
        length = rng.choice(["-1", "abc", "1e3", "99999999999999999999", "", " +5", "0x10", str(64 << 20)])
        head = "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %s\r\n\r\n" % (path, length)
        return "content-length", head.encode() + os.urandom(rng.randrange(2000)), True
    if pick == 1:
        return "chunked", ("POST %s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
                           % path).encode(), True
    if pick == 2:
        return "garbage", os.urandom(rng.randrange(1, 3000)), False
    if pick == 3:
        auth = rng.choice(["", "AWS4-HMAC-SHA256 Credential=x", "Basic abc", "AWS4-HMAC-SHA256 " + "A" * 9000])
        return "unsigned", ("GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\nContent-Length: 0\r\n\r\n"
                            % (path, auth)).encode(), True
    if pick == 4:
        return "wrong-region", _signed(address, "GET", "/2020-11-20/projects", b"", region="eu-west-1"), True
    return "signed-json", _signed(address, rng.choice(["POST", "PUT", "DELETE"]), rng.choice(PATHS[:3]),
                                  _random_json(rng)), True


def run(requests: int, seed: int) -> Dict[str, Any]:
    from edge_runtime.server.app import create_server
    from edge_runtime.server.auth import AuthConfig
    from edge_runtime.server.config import ServerConfig, StorageConfig

    data = tempfile.mkdtemp(prefix="edge-fuzz-rest-")
    config = ServerConfig(auth=AuthConfig({KEY: SECRET}), port=0, storage=StorageConfig(data_dir=data),
                          idle_timeout_s=5.0)
    server, address = create_server(config)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    rng = random.Random(seed)
    statuses: Counter = Counter()
    wrong, lost, hangs = [], [], 0
    rss_start, started = rss_mb(os.getpid()), time.monotonic()
    try:
        for _ in range(requests):
            kind, payload, complete = fault(rng, address)
            line = _raw(address, payload)
            status = "timeout" if line is None else (
                line.split(b" ")[1].decode() if line.startswith(b"HTTP/") and b" " in line else "none")
            statuses[status] += 1
            hangs += line is None and complete
            if complete and (status == "none" or status.startswith("5")):
                wrong.append("%s -> %s" % (kind, line))
            good = _raw(address, _signed(address, "GET", "/2020-11-20/projects", b""))
            if not good or b" 200 " not in good + b" ":
                lost.append("after %s: %s" % (kind, good))
    finally:
        server.shutdown()
        server.server_close()
    return {"fault_requests": requests, "requests_sent": 2 * requests, "seconds": round(time.monotonic() - started, 1),
            "statuses": dict(statuses), "hangs": hangs, "wrong": len(wrong), "wrong_examples": wrong[:20],
            "good_requests_lost": len(lost), "lost_examples": lost[:20],
            "process_rss_mb": {"start": round(rss_start, 1), "end": round(rss_mb(os.getpid()), 1)}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    report = run(args.requests, args.seed)
    log("statuses %s; wrong %d; hangs %d; lost %d" % (report["statuses"], report["wrong"], report["hangs"],
                                                        report["good_requests_lost"]))
    print(json.dumps(report, indent=2))
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "fuzz_rest.json"), "w") as fh:
        json.dump(report, fh, indent=2)
    return 1 if report["wrong"] or report["hangs"] or report["good_requests_lost"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
