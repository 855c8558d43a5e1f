"""The web console at /console/: the Lookout console's work over the same state as the REST API.

It is mounted on `edge-runtime server` (`create_server(config, {"/console": console_mount})`) and
changes state only through the REST API's operation functions (`Dispatcher.invoke`), so what the
console does boto3 sees and the other way round. Host-side, like the server; no front-end framework:
the pages are HTML rendered here, with small scripts and a stylesheet from `static/`.
"""

from __future__ import annotations

from typing import Any

from edge_runtime.console.http import PREFIX

__all__ = ["DEFAULT_BUCKET", "PREFIX", "console_mount", "console_mount_with"]


DEFAULT_BUCKET = "edge-runtime-console"


def console_mount(context: Any, dispatcher: Any) -> Any:
    """The mount factory `create_server` takes for PREFIX; uploads go to DEFAULT_BUCKET."""
    from edge_runtime.console.app import Console

    return Console(context, dispatcher, DEFAULT_BUCKET)


def console_mount_with(bucket: str) -> Any:
    """A mount factory whose uploads, masks, trials and model outputs go to `bucket` (with S3 storage, one
    the server may write)."""
    from edge_runtime.console.app import Console

    return lambda context, dispatcher: Console(context, dispatcher, bucket)
