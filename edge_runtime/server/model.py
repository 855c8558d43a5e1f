"""The AWS service model (botocore's service-2.json) as small read-only objects.

Read once per server from the copy shipped inside the package, never at import time.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
# A botocore data folder as AWS published it: users point AWS_DATA_PATH here to build the client.
AWS_DATA_PATH = os.path.join(DATA_DIR, "botocore")
SERVICE_FILE = os.path.join(AWS_DATA_PATH, "lookoutvision", "2020-11-20", "service-2.json")
PAGINATORS_FILE = os.path.join(AWS_DATA_PATH, "lookoutvision", "2020-11-20", "paginators-1.json")


@dataclass(frozen=True)
class Operation:
    """One API operation: its route, input/output shapes and the errors it may return."""

    name: str
    method: str
    request_uri: str
    response_code: int
    input_shape: str | None
    output_shape: str | None
    errors: tuple[str, ...]


@dataclass(frozen=True)
class ServiceModel:
    """Shapes by name plus operations by name, as botocore reads them."""

    metadata: dict[str, Any]
    shapes: dict[str, dict[str, Any]]
    operations: dict[str, Operation]
    paginators: dict[str, dict[str, Any]] = field(default_factory=dict)

    def shape(self, name: str) -> dict[str, Any]:
        return self.shapes[name]

    def error_status(self, code: str) -> int:
        """HTTP status of an error shape (400 for codes the model does not name)."""
        shape = self.shapes.get(code, {})
        return int(shape.get("error", {}).get("httpStatusCode", 400))

    def error_members(self, code: str) -> tuple[str, ...]:
        return tuple(self.shapes.get(code, {}).get("members", {}))


def _operation(name: str, spec: dict[str, Any]) -> Operation:
    http = spec["http"]
    return Operation(
        name=name,
        method=http["method"].upper(),
        request_uri=http["requestUri"],
        response_code=int(http.get("responseCode", 200)),
        input_shape=spec.get("input", {}).get("shape"),
        output_shape=spec.get("output", {}).get("shape"),
        errors=tuple(e["shape"] for e in spec.get("errors", ())),
    )


def load_service_model(path: str = SERVICE_FILE, paginators_path: str = PAGINATORS_FILE) -> ServiceModel:
    """Parse the shipped model; the operations and shapes are used as AWS published them."""
    with open(path, encoding="utf-8") as handle:
        raw = json.load(handle)
    paginators: dict[str, dict[str, Any]] = {}
    if os.path.isfile(paginators_path):
        with open(paginators_path, encoding="utf-8") as handle:
            paginators = json.load(handle).get("pagination", {})
    operations = {name: _operation(name, spec) for name, spec in raw["operations"].items()}
    return ServiceModel(metadata=raw["metadata"], shapes=raw["shapes"], operations=operations,
                        paginators=paginators)
