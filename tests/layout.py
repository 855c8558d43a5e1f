"""Which parts of the package run on the device: whole folders plus the small shared top-level modules.

Device-side code (the agent, the runtime with its build and gpu parts, the model package format, the
client, the benchmark runner) runs on Jetson's Python 3.8 without torch or onnx, so it may import only
itself and the top-level modules (errors, shm, staging, digests...). Host-side folders may import it.
"""

from __future__ import annotations

import ast
import os
from typing import Dict, Iterator, List, Sequence, Set

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "edge_runtime"
DEVICE_FOLDERS = ("agent", "bench", "client", "modelpkg", "runtime")
HOST_FOLDERS = ("cli", "compiler", "console", "datasets", "evaluate", "packaging", "server", "train")
# Device code may not import these (the CLI is the edge: it imports everything, lazily).
FORBIDDEN_FROM_DEVICE = ("cli", "compiler", "console", "evaluate", "packaging", "server", "train")


def module_files() -> Dict[str, str]:
    """Every module of the package: dotted name -> file."""
    modules = {}
    base = os.path.join(ROOT, PACKAGE)
    for folder, _, files in os.walk(base):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                dotted = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                modules[dotted[: -len(".__init__")] if dotted.endswith(".__init__") else dotted] = path
    return modules


def area(module: str) -> str:
    """The first-level folder of a module ("runtime", "compiler"...), or "" for a top-level module.

    `python -m edge_runtime` (__main__) is the CLI's entry point, so it counts as the CLI's."""
    if module == PACKAGE + ".__main__":
        return "cli"
    parts = module.split(".")
    if len(parts) > 2 or (len(parts) == 2 and os.path.isdir(os.path.join(ROOT, PACKAGE, parts[1]))):
        return parts[1]
    return ""


def is_device_side(module: str) -> bool:
    return area(module) in DEVICE_FOLDERS or area(module) == ""


def device_files() -> List[str]:
    return sorted(path for module, path in module_files().items() if is_device_side(module))


def import_graph() -> Dict[str, Set[str]]:
    """module -> the project modules it imports (itself excluded)."""
    modules = module_files()
    names = set(modules)
    return {module: set(imports_of(path, names)) - {module} for module, path in modules.items()}


def cycles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """The strongly connected components with more than one member (Tarjan, iterative)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    found: List[List[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = stack[stack.index(node):]
                    del stack[stack.index(node):]
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                work.append((child, iter(sorted(graph.get(child, ())))))
            elif child in stack:
                low[node] = min(low[node], index[child])
    return found


def folder_graph(graph: Dict[str, Set[str]], folders: Sequence[str]) -> Dict[str, Set[str]]:
    """Imports between the first-level `folders`, from the module graph."""
    result: Dict[str, Set[str]] = {folder: set() for folder in folders}
    for module, imported in graph.items():
        for other in imported:
            if area(module) in result and area(other) in result and area(other) != area(module):
                result[area(module)].add(area(other))
    return result


def imports_of(path: str, modules: Set[str]) -> Iterator[str]:
    """Project modules `path` imports anywhere in it (module level, functions, TYPE_CHECKING blocks)."""
    with open(path, encoding="utf-8") as fh:
        tree = ast.parse(fh.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module + "." + alias.name for alias in node.names] + [node.module]
        else:
            continue
        for name in names:
            if name in modules:
                yield name
