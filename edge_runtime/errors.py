"""One domain exception hierarchy for the whole project.

Every layer raises these, classified by what they mean to the caller (bad input, missing, taken, not
now, not reachable, ...), never by the module that raises them. The gRPC servicer (`STATUS_CODES`), the
REST server (`server/errors.py` `DOMAIN_ERRORS`) and the CLI are the only places that translate them,
each with one ordered table. Messages say what was expected and what
arrived. Python 3.8 compatible: this module runs on the device.
"""

from __future__ import annotations


class EdgeRuntimeError(Exception):
    """Base of every error this project raises on purpose."""


class InvalidArgument(EdgeRuntimeError):
    """The caller sent something malformed (bad image, bad option, bad name)."""


class NotFound(EdgeRuntimeError):
    """A named thing (model, job, file) does not exist."""


class FailedPrecondition(EdgeRuntimeError):
    """The request is well formed but the state does not allow it (model not running...)."""


class ResourceExhausted(EdgeRuntimeError):
    """Out of memory budget, queue full, or a limit reached."""


class DeadlineExceeded(EdgeRuntimeError):
    """The caller's deadline passed before the work was done (gRPC DEADLINE_EXCEEDED)."""


class PermissionDenied(EdgeRuntimeError):
    """The caller may not touch what it named (another user's shared memory, a file outside its folder)."""


class AlreadyExists(EdgeRuntimeError):
    """Something with this identity exists already (component version, job name)."""


class Unavailable(EdgeRuntimeError):
    """A store or service this needs cannot be reached or refused the work now (S3 down, a disk write
    failing); the request itself may be fine and trying again later may work."""


class InferenceError(EdgeRuntimeError):
    """The model failed while running a batch (a broken model or a runtime bug): gRPC INTERNAL."""


class CudaError(EdgeRuntimeError):
    """A CUDA driver or NVRTC call failed; the message names the call and the status."""

    def __init__(self, call: str, status: str, detail: str = "") -> None:
        message = "%s failed: %s" % (call, status)
        super().__init__(message + ("\n" + detail if detail else ""))
        self.call = call
        self.status = status


class DatasetError(InvalidArgument):
    """A manifest line, image or mask is not what Lookout's formats allow.

    Carries where it happened so the message can name the file and line.
    """

    def __init__(self, message: str, path: str = "", line: int = 0) -> None:
        where = path
        if path and line:
            where = "%s:%d" % (path, line)
        super().__init__("%s: %s" % (where, message) if where else message)
        self.path = path
        self.line = line
        self.reason = message


class ModelPackageError(InvalidArgument):
    """A model package folder is missing files or its manifest breaks the contract."""


class CompileError(EdgeRuntimeError):
    """A compile target, option or build step failed; the message names the field."""


class RecipeError(InvalidArgument):
    """A generated recipe breaks the schema, the size limit or a device rule (a bug, or a bad option)."""


class RegistrationError(FailedPrecondition):
    """Greengrass refused the component version or never made it deployable; the message says why."""


class UnsupportedHardware(FailedPrecondition):
    """A build needs CPU features, a GPU architecture or a TensorRT version this machine lacks."""


class MissingExtra(EdgeRuntimeError):
    """An optional dependency is not installed; the message names the extra to install."""

    def __init__(self, module: str, extra: str) -> None:
        super().__init__(
            "the optional dependency %r is not installed; install it with: "
            "pip install 'edge-runtime[%s]'" % (module, extra)
        )
        self.module = module
        self.extra = extra


def require(module: str, extra: str):  # type: ignore[no-untyped-def]
    """Import an optional heavy module lazily, failing with the extra's name when absent."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtra(module, extra) from exc
