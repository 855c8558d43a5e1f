"""Regenerate the agent's gRPC Python modules and make them load on the device's Python 3.8.

    python build/gen_proto.py            # rewrite edge_runtime/agent/proto/*_pb2*.py
    python build/gen_proto.py --check    # exit 1 when the committed files differ from a regeneration

Why the rewrite: current code generators embed version gates that refuse older runtimes, and the
device (JetPack 5, Python 3.8) only gets protobuf 5.29 and grpcio 1.70, down to grpcio 1.50 elsewhere.
The messages themselves need nothing newer, so this script removes:

- protobuf's `_runtime_version.ValidateProtobufRuntimeVersion(...)` call and its import;
- grpc's `GRPC_GENERATED_VERSION` check (it raises on any grpcio older than the generator);
- grpc's `_registered_method=True` keyword and `server.add_registered_method_handlers(...)` (grpcio
  1.63+ only; the generic handler registered beside it serves every method on older releases too);

and makes the grpc module import its messages package-relatively (`from . import edge_agent_pb2`),
since the generator writes a top-level `import edge_agent_pb2` that only works from the proto folder.
Every rewrite must match at least once, so a generator change that breaks an assumption fails loudly.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from typing import Callable, Dict, List, Optional, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROTO_DIR = os.path.join(ROOT, "edge_runtime", "agent", "proto")
PROTOS = ("edge-agent.proto", "agent_admin.proto")
HEADER = "# Post-processed by build/gen_proto.py (version checks stripped for Python 3.8 devices).\n"

Rewrite = Tuple[str, str, str, int]  # description, pattern, replacement, regex flags

PB2_REWRITES: List[Rewrite] = [
    ("protobuf runtime_version import", r"^from google\.protobuf import runtime_version as _runtime_version\n", "",
     re.M),
    ("protobuf runtime version check", r"^_runtime_version\.ValidateProtobufRuntimeVersion\(.*?\n\)\n", "",
     re.M | re.S),
]
GRPC_REWRITES: List[Rewrite] = [
    ("top-level pb2 import", r"^import (\w+_pb2) as (\w+)$", r"from . import \1 as \2", re.M),
    ("grpc generated version check", r"^GRPC_GENERATED_VERSION = .*?^    \)\n", "", re.M | re.S),
    ("_registered_method keyword", r",\s*_registered_method=True\)", ")", 0),
    ("add_registered_method_handlers call", r"^ *server\.add_registered_method_handlers\(.*\)\n", "", re.M),
]


def module_names(proto: str) -> Tuple[str, str]:
    base = os.path.splitext(proto)[0].replace("-", "_")
    return base + "_pb2.py", base + "_pb2_grpc.py"


def apply_rewrites(text: str, rewrites: List[Rewrite], name: str) -> str:
    for what, pattern, replacement, flags in rewrites:
        text, count = re.subn(pattern, replacement, text, flags=flags)
        if count == 0:
            raise SystemExit("gen_proto: %s: expected a %s to rewrite; the generator changed" % (name, what))
    return HEADER + text


def run_protoc(proto_dir: str, out_dir: str) -> None:
    from grpc_tools import protoc  # build-time only (grpcio-tools, the dev extra)

    include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    args = ["grpc_tools.protoc", "-I" + proto_dir, "-I" + include,
            "--python_out=" + out_dir, "--grpc_python_out=" + out_dir]
    args += [os.path.join(proto_dir, p) for p in PROTOS]
    if protoc.main(args) != 0:
        raise SystemExit("gen_proto: protoc failed on %s" % ", ".join(PROTOS))


def render(proto_dir: str = PROTO_DIR) -> Dict[str, str]:
    """File name -> post-processed content, generated in a temporary folder."""
    result: Dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        run_protoc(proto_dir, tmp)
        for proto in PROTOS:
            pb2, grpc_mod = module_names(proto)
            plan: List[Tuple[str, Callable[[str], str]]] = [
                (pb2, lambda t, n=pb2: apply_rewrites(t, PB2_REWRITES, n)),
                (grpc_mod, lambda t, n=grpc_mod: apply_rewrites(t, GRPC_REWRITES, n)),
            ]
            for name, rewrite in plan:
                with open(os.path.join(tmp, name), encoding="utf-8") as fh:
                    result[name] = rewrite(fh.read())
    return result


def write_all(files: Dict[str, str], out_dir: str) -> None:
    for name, text in files.items():
        path = os.path.join(out_dir, name)
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)


def stale_files(files: Dict[str, str], out_dir: str) -> List[str]:
    stale = []
    for name, text in files.items():
        path = os.path.join(out_dir, name)
        current = None
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as fh:
                current = fh.read()
        if current != text:
            stale.append(name)
    return stale


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare with the committed files")
    args = parser.parse_args(argv)
    files = render()
    if args.check:
        stale = stale_files(files, PROTO_DIR)
        if stale:
            print("gen_proto: stale generated files: %s (run python build/gen_proto.py)" % ", ".join(stale))
            return 1
        print("gen_proto: %d generated files are up to date" % len(files))
        return 0
    write_all(files, PROTO_DIR)
    print("gen_proto: wrote %s" % ", ".join(sorted(files)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
