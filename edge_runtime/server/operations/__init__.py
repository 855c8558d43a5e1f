"""The 22 operations, one module per resource; each module exposes `OPERATIONS` (name -> handler).

A module may also define `recover(ctx)` (run at start-up to settle work a restart interrupted) and
`shutdown(ctx)` (release what it holds, such as hosted models).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any, Callable

from edge_runtime.server.context import ServerContext

MODULES = ("projects", "datasets", "models", "hosting", "packaging_jobs", "tags")


def _modules() -> list[ModuleType]:
    return [importlib.import_module("edge_runtime.server.operations." + name) for name in MODULES]


def handlers() -> dict[str, Callable[[ServerContext, dict], dict]]:
    table: dict[str, Any] = {}
    for module in _modules():
        table.update(module.OPERATIONS)
    return table


def recover(ctx: ServerContext) -> None:
    for module in _modules():
        hook = getattr(module, "recover", None)
        if hook is not None:
            hook(ctx)


def shutdown(ctx: ServerContext) -> None:
    for module in _modules():
        hook = getattr(module, "shutdown", None)
        if hook is not None:
            hook(ctx)
