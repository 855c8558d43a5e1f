"""Deploy components from a local packaging folder with the nucleus harness, and keep them running.

For the README demo and for trying recipes by hand on a build machine (no Greengrass nucleus here):

    python -m tests.packaging.deploy_local --components demo-output/components --root demo-output/device \
        --config 'EdgeRuntime.Agent={"socket": "unix:///tmp/edge-demo.sock"}' --reuse-site-packages

deploys the newest version of every component in `<components>/recipes`, prints what ran, and stops
everything (SIGTERM, then Shutdown) on Ctrl-C or SIGTERM. `--reuse-site-packages` is the test-only
shortcut of the agent recipe (EDGE_RUNTIME_TEST_SITE_PACKAGES): the agent's venv reuses this Python's
installed dependencies instead of downloading them; a real device never sets it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform as host_platform
import signal
import sys
import sysconfig
import threading
from typing import Dict, List, Optional

from edge_runtime.packaging.agent_component import TEST_SITE_ENV
from edge_runtime.packaging.recipes import parse_recipe
from tests.packaging.nucleus_harness import NucleusHarness, _version


def newest_recipes(components_dir: str) -> List[dict]:
    newest: Dict[str, dict] = {}
    folder = os.path.join(components_dir, "recipes")
    for name in sorted(os.listdir(folder)):
        fmt = name.rsplit(".", 1)[-1]
        if fmt not in ("json", "yaml"):
            continue
        with open(os.path.join(folder, name), "rb") as fh:
            recipe = parse_recipe(fh.read(), fmt)
        current = newest.get(recipe["ComponentName"])
        if current is None or _version(recipe["ComponentVersion"]) > _version(current["ComponentVersion"]):
            newest[recipe["ComponentName"]] = recipe
    return list(newest.values())


def device_platform(extra: List[str]) -> Dict[str, str]:
    arch = {"x86_64": "amd64", "aarch64": "aarch64", "arm64": "aarch64"}.get(host_platform.machine(), "amd64")
    platform = {"os": "linux", "architecture": arch}
    platform.update(dict(item.split("=", 1) for item in extra))
    return platform


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--components", required=True, help="folder written by `package ... --output-dir`")
    parser.add_argument("--root", required=True, help="device root (packages/, work/, logs/ go here)")
    parser.add_argument("--platform-attribute", action="append", default=[], metavar="K=V",
                        help="platformOverride, e.g. jetpack=5.1")
    parser.add_argument("--config", action="append", default=[], metavar="NAME=JSON",
                        help="configuration merged into a component's DefaultConfiguration")
    parser.add_argument("--reuse-site-packages", action="store_true",
                        help="test/demo shortcut: the agent venv reuses this Python's dependencies")
    args = parser.parse_args(argv)
    config = {name: json.loads(text) for name, _, text in (c.partition("=") for c in args.config)}
    env = {}
    if args.reuse_site_packages:
        env[TEST_SITE_ENV] = sysconfig.get_paths()["purelib"]
        agent = config.setdefault("EdgeRuntime.Agent", {})
        agent.setdefault("pythonCommand", getattr(sys, "_base_executable", sys.executable))
    harness = NucleusHarness(args.root, platform=device_platform(args.platform_attribute),
                             artifact_dir=os.path.abspath(args.components), env=env)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        order = harness.deploy(newest_recipes(args.components), config)
        print("deployed (dependencies first): %s; logs in %s" % (", ".join(order), os.path.join(args.root, "logs")),
              flush=True)
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        harness.stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
