"""The REST server's one ordered table from the project's errors to Lookout's error shapes."""

from __future__ import annotations

import pytest

from edge_runtime import errors
from edge_runtime.compiler.targets import validate_target
from edge_runtime.server.errors import DOMAIN_ERRORS, from_domain


@pytest.mark.parametrize("exc, code, status", [
    (errors.NotFound("gone"), "ResourceNotFoundException", 404),
    (errors.AlreadyExists("taken"), "ConflictException", 409),
    (errors.UnsupportedHardware("no avx512"), "ConflictException", 409),  # a FailedPrecondition
    (errors.ResourceExhausted("full"), "ServiceQuotaExceededException", 402),
    (errors.PermissionDenied("no"), "AccessDeniedException", 403),
    (errors.DatasetError("bad line", "m.manifest", 3), "ValidationException", 400),  # an InvalidArgument
    (errors.CompileError("bad option"), "ValidationException", 400),
    (errors.Unavailable("s3://b failed: Could not connect"), "InternalServerException", 500),
    (errors.InferenceError("model failed"), "InternalServerException", 500),
])
def test_each_kind_has_its_shape(exc, code, status):
    error = from_domain(exc, "MODEL_PACKAGE_JOB", "job-1")
    assert (error.code, error.status()) == (code, status)
    assert str(exc) in error.message


def test_a_target_refusal_is_a_validation_error():
    with pytest.raises(errors.CompileError) as info:
        validate_target(None, {"Os": "WINDOWS", "Arch": "X86_64"}, None)
    assert from_domain(info.value, "MODEL_PACKAGE_JOB", "j").code == "ValidationException"


def test_subclasses_come_before_their_bases():
    kinds = [kind for kind, _ in DOMAIN_ERRORS]
    for i, kind in enumerate(kinds):
        assert not any(issubclass(kind, earlier) and kind is not earlier for earlier in kinds[:i]), kind
