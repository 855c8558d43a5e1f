"""Build edge-runtime's own wheel for the agent component.

`python -m pip wheel --no-deps <source tree>`; when hatchling (our build backend) is importable here
the build runs without an isolated build environment, so no download is needed. Hatchling writes
reproducible wheels (fixed timestamps), so the same source gives the same digest.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import re
import subprocess
import sys
from typing import Optional

from edge_runtime.errors import InvalidArgument

WHEEL_NAME = re.compile(r"^edge_runtime-([^-]+)-.*\.whl$")


def find_source_tree() -> str:
    """The checkout this package runs from (pyproject.toml naming edge-runtime beside edge_runtime/)."""
    import edge_runtime

    root = os.path.dirname(os.path.dirname(os.path.abspath(edge_runtime.__file__)))
    pyproject = os.path.join(root, "pyproject.toml")
    try:
        with open(pyproject, encoding="utf-8") as fh:
            if re.search(r'^name\s*=\s*"edge-runtime"', fh.read(), re.MULTILINE):
                return root
    except OSError:
        pass
    raise InvalidArgument(
        "edge-runtime is installed without its source tree (%s has no pyproject.toml); "
        "pass a built wheel with --wheel" % root
    )


def build_wheel(out_dir: str, source_tree: Optional[str] = None) -> str:
    """Build into `out_dir` (a fresh folder) and return the wheel's path."""
    source = source_tree or find_source_tree()
    os.makedirs(out_dir, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "-q", "-w", out_dir]
    if importlib.util.find_spec("hatchling") is not None:
        cmd.append("--no-build-isolation")
    result = subprocess.run(cmd + [source], capture_output=True, text=True)
    if result.returncode != 0:
        raise InvalidArgument("building the edge-runtime wheel failed:\n%s" % (result.stderr or result.stdout)[-4000:])
    wheels = glob.glob(os.path.join(out_dir, "edge_runtime-*.whl"))
    if len(wheels) != 1:
        raise InvalidArgument("expected one edge_runtime wheel in %s, found %s" % (out_dir, wheels))
    return wheels[0]


def wheel_version(path: str) -> str:
    match = WHEEL_NAME.match(os.path.basename(path))
    if not match:
        raise InvalidArgument("%s is not an edge_runtime wheel (edge_runtime-<version>-...whl)" % path)
    return match.group(1)
