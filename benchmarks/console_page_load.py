"""How fast the console's dataset grid is with 2,000 images: the HTML alone, and a full load in chromium.

    python benchmarks/console_page_load.py [--images 2000] [--rounds 5]

A server with the console on 127.0.0.1:0, one dataset of N real 256x256 PNGs (written to the object
folder, entries added through UpdateDatasetEntries). Measured per round, pages interleaved: the grid's
HTML over HTTP (first, middle and last page), and in headless chromium the time to the load event of a
page, thumbnails included (60 per page, made on first request and then cached), cold then warm.
Writes benchmarks/results/console_page_load.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.request

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from _common import RESULTS, log  # noqa: E402

from edge_runtime.console import PREFIX, console_mount  # noqa: E402
from edge_runtime.server.app import create_server  # noqa: E402
from edge_runtime.server.auth import AuthConfig  # noqa: E402
from edge_runtime.server.config import ServerConfig, StorageConfig  # noqa: E402
from tests.console.browser import ARGS, CHROMIUM  # noqa: E402

BUCKET = "edge-runtime-console"


def _dataset(server, objects: str, count: int) -> None:
    from edge_runtime.console.lines import changes, line_for

    folder = os.path.join(objects, BUCKET, "bench")
    os.makedirs(folder)
    rng = np.random.default_rng(0)
    lines = []
    for i in range(count):
        cv2.imwrite(os.path.join(folder, "%04d.png" % i), rng.integers(0, 255, (256, 256, 3), dtype=np.uint8))
        lines.append(line_for("s3://%s/bench/%04d.png" % (BUCKET, i), i % 2 if i % 3 else None))
    console = server.mounts[PREFIX]
    console.ops.call("CreateProject", ProjectName="bench")
    console.ops.call("CreateDataset", ProjectName="bench", DatasetType="train")
    for start in range(0, count, 500):
        console.ops.call("UpdateDatasetEntries", ProjectName="bench", DatasetType="train",
                         Changes=changes(lines[start:start + 500]))


def _html_ms(url: str) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as response:
        response.read()
    return 1000 * (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    data = tempfile.mkdtemp(prefix="console-bench-")
    config = ServerConfig(auth=AuthConfig(enabled=False), port=0, storage=StorageConfig(data_dir=data))
    server, (host, port) = create_server(config, {PREFIX: console_mount})
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _dataset(server, config.storage.objects_dir, args.images)
    base = "http://%s:%d%s/p/bench/d/train" % (host, port, PREFIX)
    pages = [1, args.images // 120 or 1, -(-args.images // 60)]
    html: dict[int, list[float]] = {p: [] for p in pages}
    browser_ms: dict[str, list[float]] = {"cold": [], "warm": []}
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for round_number in range(args.rounds):
            for number in pages:
                html[number].append(_html_ms("%s?page=%d" % (base, number)))
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            page = context.new_page()
            number = 2 + round_number  # a page whose thumbnails were never made: cold
            for kind in ("cold", "warm"):
                started = time.perf_counter()
                page.goto("%s?page=%d" % (base, number), wait_until="load")
                browser_ms[kind].append(1000 * (time.perf_counter() - started))
            context.close()
        browser.close()
    server.shutdown()
    server.server_close()
    result = {"images": args.images, "rounds": args.rounds,
              "html_ms_median": {str(p): round(statistics.median(v), 1) for p, v in html.items()},
              "browser_load_ms_median": {k: round(statistics.median(v), 1) for k, v in browser_ms.items()},
              "browser_load_ms": {k: [round(x, 1) for x in v] for k, v in browser_ms.items()}}
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "console_page_load.json"), "w") as handle:
        json.dump(result, handle, indent=2)
    log(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
