"""The web console at /console/: the Lookout console's work over the same state as the REST API.

It is mounted on `edge-runtime server` (`create_server(config, {"/console": console_mount})`) and
changes state only through the REST API's operation functions (`Dispatcher.invoke`), so what the
console does boto3 sees and the other way round. Host-side, like the server; no front-end framework:
the pages are HTML rendered here, with small scripts and a stylesheet from `static/`.
"""

from __future__ import annotations

from typing import Any

from edge_runtime.console.http import PREFIX

__all__ = ["PREFIX", "console_mount"]


def console_mount(context: Any, dispatcher: Any) -> Any:
    """The mount factory `create_server` takes for PREFIX."""
    from edge_runtime.console.app import Console

    return Console(context, dispatcher)
