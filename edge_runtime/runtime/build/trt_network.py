"""ONNX -> serialized TensorRT engine with the Python API, every return value checked.

Version differences go through `edge_runtime.runtime.build.versions` only. The same code runs against the
real `tensorrt` module on a device and against tests/fakes/tensorrt.py here.
Python 3.8 compatible.
"""

from __future__ import annotations

import logging
from typing import Any, List, Optional, Sequence, Tuple

from edge_runtime.errors import CompileError
from edge_runtime.runtime.build.versions import Version, network_flags, platform_has_fast, set_workspace

log = logging.getLogger(__name__)


def make_logger(trt: Any) -> Any:
    """A TensorRT ILogger that forwards to `logging` and keeps error messages for CompileError texts."""

    class CapturingLogger(trt.ILogger):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            trt.ILogger.__init__(self)
            self.errors: List[str] = []

        def log(self, severity: Any, msg: str) -> None:
            sev = trt.ILogger.Severity
            if severity in (sev.INTERNAL_ERROR, sev.ERROR):
                self.errors.append(str(msg))
                log.error("TensorRT: %s", msg)
            elif severity == sev.WARNING:
                log.warning("TensorRT: %s", msg)
            else:
                log.debug("TensorRT: %s", msg)

    return CapturingLogger()


def _checked(value: Any, what: str) -> Any:
    if value is None:
        raise CompileError("TensorRT %s returned nothing" % what)
    return value


def parser_errors(parser: Any) -> List[str]:
    return [str(parser.get_error(i)) for i in range(int(parser.num_errors))]


def parse_onnx(trt: Any, version: Version, builder: Any, onnx_bytes: bytes, logger: Any) -> Tuple[Any, Any]:
    """(network, parser) for the ONNX bytes; a parse failure lists every parser error."""
    network = _checked(builder.create_network(network_flags(trt, version)), "builder.create_network")
    parser = _checked(trt.OnnxParser(network, logger), "OnnxParser")
    if not parser.parse(onnx_bytes):
        errors = parser_errors(parser) or list(logger.errors) or ["(no error text)"]
        raise CompileError("TensorRT could not parse the ONNX model (%d error%s):\n  %s"
                           % (len(errors), "" if len(errors) == 1 else "s", "\n  ".join(errors)))
    return network, parser


def check_input(network: Any, name: str, chw: Sequence[int], max_batch: int) -> None:
    """The network has exactly our image input, NCHW with the manifest's size and a usable batch axis."""
    inputs = [network.get_input(i) for i in range(int(network.num_inputs))]
    names = [t.name for t in inputs]
    if names != [name]:
        raise CompileError("the ONNX model's inputs are %s; expected exactly one named %r" % (names, name))
    shape = tuple(int(d) for d in inputs[0].shape)
    if len(shape) != 4 or tuple(shape[1:]) != tuple(chw):
        raise CompileError("input %r has shape %s; the manifest says (N, %s)"
                           % (name, shape, ", ".join(str(d) for d in chw)))
    if shape[0] != -1 and max_batch > 1:
        raise CompileError("input %r has a fixed batch of %d; max-batch-size %d needs a dynamic batch axis "
                           "(re-export the ONNX with dynamic_axes)" % (name, shape[0], max_batch))


def _profile(builder: Any, name: str, chw: Sequence[int], low: int, opt: int, high: int) -> Any:
    profile = _checked(builder.create_optimization_profile(), "builder.create_optimization_profile")
    profile.set_shape(name, (low,) + tuple(chw), (opt,) + tuple(chw), (high,) + tuple(chw))
    return profile


def serialize_engine(
    trt: Any,
    version: Version,
    onnx_bytes: bytes,
    settings: Any,  # trt_build.BuilderSettings
    calibrator: Optional[Any] = None,
) -> Any:
    """Build and return the serialized engine (IHostMemory: a bytes-like object)."""
    logger = make_logger(trt)
    builder = _checked(trt.Builder(logger), "Builder")
    network, parser = parse_onnx(trt, version, builder, onnx_bytes, logger)
    chw = (3, settings.input_height, settings.input_width)
    check_input(network, settings.input_name, chw, settings.max_batch_size)
    config = _checked(builder.create_builder_config(), "builder.create_builder_config")
    set_workspace(trt, config, version, settings.workspace_mb << 20)
    _set_precision(trt, builder, config, settings.precision)
    for index in range(settings.profiles):  # identical profiles: one per execution context
        profile = _profile(builder, settings.input_name, chw, 1, settings.opt_batch_size, settings.max_batch_size)
        if config.add_optimization_profile(profile) != index:
            raise CompileError("TensorRT refused optimisation profile %d (batch 1..%d)"
                               % (index, settings.max_batch_size))
    if settings.precision == "int8":
        if calibrator is None:
            raise CompileError("precision int8 needs a calibrator")
        batch = calibrator.get_batch_size()
        calibration = _profile(builder, settings.input_name, chw, batch, batch, batch)
        if config.set_calibration_profile(calibration) is False:
            raise CompileError("TensorRT refused the calibration profile for batch %d" % batch)
        config.int8_calibrator = calibrator
    plan = builder.build_serialized_network(network, config)
    if calibrator is not None and getattr(calibrator, "error", None) is not None:
        raise CompileError("INT8 calibration failed: %s" % calibrator.error)
    if plan is None:
        errors = list(logger.errors) or ["(TensorRT logged no error)"]
        raise CompileError("TensorRT failed to build the engine:\n  %s" % "\n  ".join(errors))
    return plan


def _set_precision(trt: Any, builder: Any, config: Any, precision: str) -> None:
    """fp16: FP16 kernels allowed; int8: INT8 plus FP16 for layers without INT8 kernels; fp32: neither."""
    if precision in ("fp16", "int8"):
        if platform_has_fast(builder, "fp16"):
            config.set_flag(trt.BuilderFlag.FP16)
        else:
            log.warning("this GPU has no fast FP16; TensorRT keeps FP32 kernels")
    if precision == "int8":
        if not platform_has_fast(builder, "int8"):
            log.warning("this GPU has no fast INT8; the engine may not be faster than FP16")
        config.set_flag(trt.BuilderFlag.INT8)
