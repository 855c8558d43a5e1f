"""One request through the pipeline: authenticate, route, decode, validate, de-duplicate, run, encode.

This is the only place that turns exceptions into HTTP errors: ApiError as it is, the project's
domain errors by their kind, anything else as InternalServerException (logged with its traceback).
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import parse_qsl

from edge_runtime.errors import EdgeRuntimeError
from edge_runtime.server.auth import SignedRequest, SigV4Verifier
from edge_runtime.server.context import ServerContext
from edge_runtime.server.errors import ApiError, from_domain, internal
from edge_runtime.server.idempotency import IdempotencyCache
from edge_runtime.server.model import ServiceModel
from edge_runtime.server.protocol import RequestDecoder, ResponseEncoder, WireRequest
from edge_runtime.server.routes import Router
from edge_runtime.server.validation import Validator

log = logging.getLogger(__name__)
Handler = Callable[[ServerContext, dict], dict]


@dataclass
class HttpResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class Dispatcher:
    def __init__(self, context: ServerContext, model: ServiceModel, handlers: dict[str, Handler]) -> None:
        missing = sorted(set(model.operations) - set(handlers))
        if missing:
            raise RuntimeError("operations without a handler: %s" % ", ".join(missing))
        self._context = context
        self._model = model
        self._handlers = handlers
        self._router = Router(model)
        self._decoder = RequestDecoder(model)
        self._encoder = ResponseEncoder(model)
        self._validator = Validator(model)
        auth = context.config.auth
        self._verifier = SigV4Verifier(auth, context.config.arns.region) if auth.enabled else None
        self._idempotency = IdempotencyCache(context.store)

    def handle(self, method: str, raw_path: str, raw_query: str, headers: dict[str, list[str]],
               body: bytes) -> HttpResponse:
        request_id = str(uuid.uuid4())
        started = time.monotonic()
        name = "-"
        try:
            if self._verifier is not None:
                self._verifier.verify(SignedRequest(method, raw_path, raw_query, headers, body))
            match = self._router.match(method, raw_path)
            name = match.operation.name
            query: dict[str, list[str]] = {}
            for key, value in parse_qsl(raw_query, keep_blank_values=True):
                query.setdefault(key, []).append(value)
            wire = WireRequest(match.labels, query, {k: v[0] for k, v in headers.items()}, body)
            params = self._decoder.decode(match.operation.input_shape, wire)
            self._validator.validate(match.operation.input_shape, params)
            output = self._run(name, params)
            response = HttpResponse(match.operation.response_code,
                                    self._encoder.encode(match.operation.output_shape, output),
                                    {"Content-Type": "application/json"})
        except ApiError as exc:
            response = self._error(exc)
        except Exception as exc:  # the last line of defence: never leak a traceback to the client
            log.exception("%s failed", name)
            response = self._error(internal("the server failed while handling %s: %s" % (name, exc)))
        response.headers["x-amzn-RequestId"] = request_id
        log.info("%s %s -> %d (%.1f ms)", name, raw_path, response.status, 1000 * (time.monotonic() - started))
        return response

    def invoke(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        """Run one operation without HTTP (the console): validated and de-duplicated as a request is,
        domain errors translated; raises ApiError."""
        operation = self._model.operations[name]
        self._validator.validate(operation.input_shape, params)
        return self._run(name, params)

    def _run(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        token = params.get("ClientToken")
        if token:
            remembered = self._idempotency.lookup(name, token, params)
            if remembered is not None:
                return remembered
        try:
            output = self._handlers[name](self._context, params)
        except EdgeRuntimeError as exc:
            resource_type, resource_id = _resource_of(name, params)
            raise from_domain(exc, resource_type, resource_id) from exc
        if token:
            self._idempotency.remember(name, token, params, _jsonable(output))
        return output

    def _error(self, exc: ApiError) -> HttpResponse:
        headers = {"Content-Type": "application/json"}
        headers.update(exc.headers())
        return HttpResponse(exc.status(self._model), exc.body(), headers)


def _resource_of(operation: str, params: dict[str, Any]) -> tuple[str, str]:
    if "JobName" in params or "PackagingJob" in operation:
        return "MODEL_PACKAGE_JOB", str(params.get("JobName", params.get("ProjectName", "")))
    if "ModelVersion" in params or "Model" in operation:
        return "MODEL", "%s/%s" % (params.get("ProjectName", ""), params.get("ModelVersion", ""))
    if "DatasetType" in params:
        return "DATASET", "%s/%s" % (params.get("ProjectName", ""), params.get("DatasetType"))
    return "PROJECT", str(params.get("ProjectName", params.get("ResourceArn", "")))


def _jsonable(value: Any) -> Any:
    """Outputs are remembered as JSON; blobs never occur in the outputs of token-bearing operations."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value
