"""Route requests by HTTP method and the model's `requestUri` templates.

Templates are matched on the raw (still percent-encoded) path split at `/`, so a label such as an
ARN, which botocore encodes with `%2F` for its slashes, stays one segment; each label is decoded
after the match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from edge_runtime.server.errors import ApiError
from edge_runtime.server.model import Operation, ServiceModel

_LABEL = re.compile(r"^\{([A-Za-z0-9_]+)(\+?)\}$")


@dataclass(frozen=True)
class Route:
    operation: Operation
    pattern: re.Pattern[str]
    literal_count: int  # more literal segments win over labels when two templates match


@dataclass(frozen=True)
class RouteMatch:
    operation: Operation
    labels: dict[str, str]  # uri label name -> decoded value


def _compile(template: str) -> tuple[re.Pattern[str], int]:
    path = template.split("?", 1)[0]
    parts = []
    literals = 0
    for segment in path.strip("/").split("/"):
        label = _LABEL.match(segment)
        if label is None:
            parts.append(re.escape(segment))
            literals += 1
        elif label.group(2):
            parts.append("(?P<%s>.+)" % label.group(1))
        else:
            parts.append("(?P<%s>[^/]+)" % label.group(1))
    return re.compile("^/" + "/".join(parts) + "/?$"), literals


class Router:
    """Operations indexed by method; `match` returns the most specific template that fits."""

    def __init__(self, model: ServiceModel) -> None:
        self._routes: dict[str, list[Route]] = {}
        for operation in model.operations.values():
            pattern, literals = _compile(operation.request_uri)
            self._routes.setdefault(operation.method, []).append(Route(operation, pattern, literals))
        for routes in self._routes.values():
            routes.sort(key=lambda r: -r.literal_count)

    def match(self, method: str, raw_path: str) -> RouteMatch:
        for route in self._routes.get(method.upper(), ()):
            found = route.pattern.match(raw_path)
            if found:
                labels = {k: unquote(v) for k, v in found.groupdict().items()}
                return RouteMatch(route.operation, labels)
        raise ApiError("UnknownOperationException",
                       "no Lookout for Vision operation is served at %s %s" % (method.upper(), raw_path))
