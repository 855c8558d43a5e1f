"""AWS REST-JSON errors: one exception type, helpers per error shape, and the domain-error table.

botocore reads the error code from the `x-amzn-ErrorType` header, the message from the body's
`message` (or `Message`), and the modelled fields (ResourceId, ResourceType, ...) from the body by
their member names; the HTTP status comes from the error shape in the service model.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Tuple, Type

from edge_runtime import errors as domain

# Resource types of the model's ResourceType enum.
PROJECT = "PROJECT"
DATASET = "DATASET"
MODEL = "MODEL"
PACKAGING_JOB = "MODEL_PACKAGE_JOB"

_DEFAULT_STATUS = {
    "AccessDeniedException": 403,
    "InvalidSignatureException": 403,  # what AWS's JSON services answer for a wrong region scope
    "ConflictException": 409,
    "InternalServerException": 500,
    "ResourceNotFoundException": 404,
    "ServiceQuotaExceededException": 402,
    "ThrottlingException": 429,
    "ValidationException": 400,
    "RequestEntityTooLarge": 413,
    "UnknownOperationException": 404,
}


class ApiError(Exception):
    """An error the client sees: a code (error shape name), a message and the shape's extra fields."""

    def __init__(self, code: str, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = {k: v for k, v in fields.items() if v is not None}

    def status(self, model: Any = None) -> int:
        if model is not None and code_in_model(model, self.code):
            return int(model.error_status(self.code))
        return _DEFAULT_STATUS.get(self.code, 400)

    def body(self) -> bytes:
        payload: dict[str, Any] = {"message": self.message, "Message": self.message}
        payload.update(self.fields)
        return json.dumps(payload).encode("utf-8")

    def headers(self) -> dict[str, str]:
        headers = {"x-amzn-ErrorType": self.code}
        if "RetryAfterSeconds" in self.fields:
            headers["Retry-After"] = str(self.fields["RetryAfterSeconds"])
        return headers


def code_in_model(model: Any, code: str) -> bool:
    return code in model.shapes and model.shapes[code].get("exception", False)


def validation(message: str) -> ApiError:
    return ApiError("ValidationException", message)


def access_denied(message: str) -> ApiError:
    return ApiError("AccessDeniedException", message)


def wrong_region(region: str) -> ApiError:
    """AWS's own answer (code and text) to a signature scoped to another region than the endpoint's."""
    return ApiError("InvalidSignatureException", "Credential should be scoped to a valid region, not '%s'. " % region)


def not_found(resource_type: str, resource_id: str, message: str = "") -> ApiError:
    text = message or "%s %s does not exist" % (resource_type.lower().replace("_", " "), resource_id)
    return ApiError("ResourceNotFoundException", text, ResourceId=resource_id, ResourceType=resource_type)


def conflict(resource_type: str, resource_id: str, message: str) -> ApiError:
    return ApiError("ConflictException", message, ResourceId=resource_id, ResourceType=resource_type)


def quota(message: str, quota_code: str, resource_type: str | None = None,
          resource_id: str | None = None) -> ApiError:
    return ApiError("ServiceQuotaExceededException", message, QuotaCode=quota_code,
                    ServiceCode="lookoutvision", ResourceType=resource_type, ResourceId=resource_id)


def internal(message: str = "the server hit an internal error; see its log", retry_after: int = 1) -> ApiError:
    return ApiError("InternalServerException", message, RetryAfterSeconds=retry_after)


Translate = Callable[[str, str, str], ApiError]  # (message, resource type, resource id) -> the client's error

# The one ordered table from the project's errors to Lookout's error shapes: the first class that matches
# wins (subclasses before their bases), as the agent's servicer does for gRPC status codes.
DOMAIN_ERRORS: Tuple[Tuple[Type[BaseException], Translate], ...] = (
    (domain.NotFound, lambda m, rtype, rid: not_found(rtype, rid, m)),
    (domain.AlreadyExists, lambda m, rtype, rid: conflict(rtype, rid, m)),
    (domain.FailedPrecondition, lambda m, rtype, rid: conflict(rtype, rid, m)),
    (domain.ResourceExhausted, lambda m, rtype, rid: quota(m, "L-RESOURCES", rtype, rid)),
    (domain.PermissionDenied, lambda m, rtype, rid: access_denied(m)),
    (domain.InvalidArgument, lambda m, rtype, rid: validation(m)),
    (domain.CompileError, lambda m, rtype, rid: validation(m)),  # a target or option the compiler refused
    (domain.Unavailable, lambda m, rtype, rid: internal(m, retry_after=5)),
    (domain.EdgeRuntimeError, lambda m, rtype, rid: internal(m)),
)


def from_domain(exc: domain.EdgeRuntimeError, resource_type: str, resource_id: str) -> ApiError:
    """Translate the project's own errors for a request about (resource_type, resource_id)."""
    for kind, translate in DOMAIN_ERRORS:
        if isinstance(exc, kind):
            return translate(str(exc), resource_type, resource_id)
    return internal(str(exc))
