"""The requirement lines of the aarch64 test environment, for scripts/test-arm64.sh.

The project's own dependencies, the `agent` and `bench` extras (what a device installs) and the test
tools the device-side tests import (from the `dev` extra: pytest, pytest-timeout, grpcio-tools,
cryptography; onnx to build the test models), each pinned to the version installed in this (host)
Python where it is installed, so the aarch64 run and the x86-64 reference run use the same releases.
Needs Python 3.11+ (tomllib): the host side only.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import sys

import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEST_TOOLS = ("pytest", "pytest-timeout", "grpcio-tools", "cryptography")
NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _name(requirement: str) -> str:
    match = NAME.match(requirement)
    if match is None:
        raise SystemExit("cannot read a package name from %r in pyproject.toml" % requirement)
    return match.group(1).lower().replace("_", "-")


def requirement_lines() -> list:
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as fh:
        project = tomllib.load(fh)["project"]
    extras = project["optional-dependencies"]
    # Not the `openvino` extra: under qemu its CPU plugin dies of SIGSEGV (no /sys to read the CPU from),
    # and the agent would pick it for builds that carry an OpenVINO model.
    wanted = list(project["dependencies"]) + extras["agent"] + extras["bench"]
    wanted += [r for r in extras["dev"] if _name(r) in TEST_TOOLS]
    wanted += [r for r in extras["compile"] if _name(r) == "onnx"]
    lines = {}  # name -> requirement line; the first mention of a name wins
    for requirement in wanted:
        name = _name(requirement)
        if name in lines:
            continue
        try:
            lines[name] = "%s==%s" % (name, importlib.metadata.version(name))
        except importlib.metadata.PackageNotFoundError:
            lines[name] = requirement
    return [lines[name] for name in sorted(lines)]


if __name__ == "__main__":
    sys.stdout.write("".join(line + "\n" for line in requirement_lines()))
