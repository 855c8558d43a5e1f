"""The builder half of the fake `tensorrt` module (tests/fakes/tensorrt.py puts the halves together).

It is a fake because TensorRT cannot exist here: it needs an NVIDIA GPU and JetPack/CUDA libraries,
and this machine has neither. It imitates the slice of the Python API the engine build uses, in the
flavour of TensorRT 8.5 (EXPLICIT_BATCH required for ONNX, `max_workspace_size` still present but
deprecated) or 10.x (no `max_workspace_size`, EXPLICIT_BATCH ignored and warned about, no
`platform_has_fast_*`), records every call in `module.calls`, and checks what real TensorRT would
refuse: profile shapes out of order, a calibrator whose base class was not initialised, calibration
batches of the wrong shape. With no GPU, `get_batch` pointers are host addresses registered by
`HostBuffers`, the test-side stand-in for the compiler's DeviceBuffers seam.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np


class _Enum:
    def __init__(self, name: str, value: int) -> None:
        self.name, self.value = name, value

    def __int__(self) -> int:
        return self.value

    def __repr__(self) -> str:
        return self.name


def _enum(name: str, members: Sequence[str]) -> type:
    return type(name, (), {m: _Enum("%s.%s" % (name, m), i) for i, m in enumerate(members)})


class HostBuffers:
    """DeviceBuffers stand-in: 'uploads' copy into host arrays the fake resolves by address."""

    def __init__(self, trt: Any) -> None:
        self.trt = trt
        self.closed = False

    def upload(self, name: str, array: np.ndarray) -> int:
        copy = np.ascontiguousarray(array).copy()
        pointer = int(copy.ctypes.data)
        self.trt.host_memory[pointer] = copy
        return pointer

    def close(self) -> None:
        self.closed = True


def add_builder(trt: Any, version: str, input_shape: Tuple[int, ...], input_name: str,
                parse_errors: Sequence[str], build_fails: bool) -> None:
    """Give the module `trt` the builder API; `parse_errors` makes parsing fail, `build_fails` the build."""
    major = int(version.split(".")[0])
    trt.host_memory = {}
    trt.calibration_batches = []
    trt.built_configs = []
    calls: List[Tuple[Any, ...]] = trt.calls

    trt.NetworkDefinitionCreationFlag = _enum("NetworkDefinitionCreationFlag", ["EXPLICIT_BATCH", "STRONGLY_TYPED"])
    trt.BuilderFlag = _enum("BuilderFlag", ["FP16", "INT8", "TF32"])
    trt.MemoryPoolType = _enum("MemoryPoolType", ["WORKSPACE"])

    class ILogger:
        Severity = _enum("Severity", ["INTERNAL_ERROR", "ERROR", "WARNING", "INFO", "VERBOSE"])

        def __init__(self) -> None:
            self._fake_initialised = True

    class Logger(ILogger):
        """As TensorRT's: an ILogger built with a minimum severity (the runtime half uses it)."""

        WARNING = ILogger.Severity.WARNING

        def __init__(self, min_severity: Any = None) -> None:
            ILogger.__init__(self)

    class IInt8EntropyCalibrator2:
        def __init__(self) -> None:
            self._fake_initialised = True

    class Tensor:
        def __init__(self, name: str, shape: Tuple[int, ...]) -> None:
            self.name, self.shape = name, shape

    class Network:
        def __init__(self, flags: int) -> None:
            self.flags = flags
            self.inputs: List[Tensor] = []

        @property
        def num_inputs(self) -> int:
            return len(self.inputs)

        def get_input(self, index: int) -> Tensor:
            return self.inputs[index]

    class ParserError:
        def __init__(self, text: str) -> None:
            self.text = text

        def __str__(self) -> str:
            return "In node 0 (parseGraph): INVALID_NODE: %s" % self.text

    class OnnxParser:
        def __init__(self, network: Network, logger: Any) -> None:
            assert getattr(logger, "_fake_initialised", False), "ILogger.__init__ was not called"
            self.network = network
            self.errors: List[ParserError] = []

        def parse(self, model: bytes) -> bool:
            calls.append(("parse", len(model)))
            explicit = self.network.flags & (1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH))
            if major < 10 and not explicit:
                self.errors = [ParserError("Network must have explicit batch dimension (EXPLICIT_BATCH flag)")]
            elif parse_errors:
                self.errors = [ParserError(e) for e in parse_errors]
            if self.errors:
                return False
            self.network.inputs = [Tensor(input_name, tuple(input_shape))]
            return True

        @property
        def num_errors(self) -> int:
            return len(self.errors)

        def get_error(self, index: int) -> ParserError:
            return self.errors[index]

    class Profile:
        def __init__(self) -> None:
            self.shapes: Dict[str, Tuple[Tuple[int, ...], ...]] = {}

        def set_shape(self, name: str, low: Sequence[int], opt: Sequence[int], high: Sequence[int]) -> None:
            if not all(a <= b <= c for a, b, c in zip(low, opt, high)):
                raise ValueError("profile shapes must satisfy min <= opt <= max, got %s %s %s" % (low, opt, high))
            self.shapes[name] = (tuple(low), tuple(opt), tuple(high))
            calls.append(("set_shape", name, tuple(low), tuple(opt), tuple(high)))

    config_attrs = {"flags", "pools", "profiles", "calibration_profile", "int8_calibrator", "_deprecated"}
    if major < 10:
        config_attrs.add("max_workspace_size")

    class Config:
        def __init__(self) -> None:
            self.flags, self.pools, self.profiles = set(), {}, []
            self.calibration_profile: Optional[Profile] = None
            self.int8_calibrator: Any = None

        def __setattr__(self, name: str, value: Any) -> None:
            if name not in config_attrs:  # TensorRT 10 removed max_workspace_size: real objects refuse it
                raise AttributeError("'IBuilderConfig' object has no attribute %r" % name)
            if name == "max_workspace_size":
                calls.append(("deprecated", "max_workspace_size"))
            object.__setattr__(self, name, value)

        def set_flag(self, flag: _Enum) -> None:
            calls.append(("set_flag", flag.name))
            self.flags.add(flag.name)

        def set_memory_pool_limit(self, pool: _Enum, size: int) -> None:
            calls.append(("set_memory_pool_limit", pool.name, size))
            self.pools[pool.name] = size

        def add_optimization_profile(self, profile: Profile) -> int:
            self.profiles.append(profile)
            return len(self.profiles) - 1

        def set_calibration_profile(self, profile: Profile) -> bool:
            self.calibration_profile = profile
            return True

    class Builder:
        def __init__(self, logger: Any) -> None:
            assert isinstance(logger, ILogger), "Builder needs an ILogger"
            self.logger = logger

        def create_network(self, flags: int = 0) -> Network:
            calls.append(("create_network", flags))
            if major >= 10 and flags & (1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)):
                calls.append(("deprecated", "EXPLICIT_BATCH"))
            return Network(flags)

        def create_builder_config(self) -> Config:
            return Config()

        def create_optimization_profile(self) -> Profile:
            return Profile()

        def build_serialized_network(self, network: Network, config: Config) -> Optional[bytes]:
            calls.append(("build_serialized_network",))
            trt.built_configs.append(config)
            if "BuilderFlag.INT8" in config.flags:
                _calibrate(config, network)
            if build_fails:
                self.logger.log(ILogger.Severity.ERROR, "fake: insufficient workspace for layer conv1")
                return None
            summary = {"flags": sorted(config.flags), "pools": config.pools, "profiles": len(config.profiles)}
            return b"FAKE-ENGINE " + json.dumps(summary, sort_keys=True).encode()

    if major < 10:
        Builder.platform_has_fast_fp16 = True  # type: ignore[attr-defined]
        Builder.platform_has_fast_int8 = True  # type: ignore[attr-defined]

    def _calibrate(config: Config, network: Network) -> None:
        calibrator = config.int8_calibrator
        assert isinstance(calibrator, IInt8EntropyCalibrator2), "int8_calibrator must be an IInt8EntropyCalibrator2"
        assert getattr(calibrator, "_fake_initialised", False), "IInt8EntropyCalibrator2.__init__ was not called"
        assert config.calibration_profile is not None, "dynamic shapes need a calibration profile"
        shape = config.calibration_profile.shapes[input_name][1]
        assert calibrator.get_batch_size() == shape[0]
        cache = calibrator.read_calibration_cache()
        if cache:
            calls.append(("calibration_cache_read", len(cache)))
            return
        while True:
            pointers = calibrator.get_batch([network.get_input(0).name])
            if pointers is None:
                break
            batch = trt.host_memory[pointers[0]]
            assert batch.shape == shape and batch.dtype == np.float32, (batch.shape, shape)
            trt.calibration_batches.append(batch)
        calibrator.write_calibration_cache(b"TRT-%s-EntropyCalibration2 fake %d batches"
                                           % (version.encode(), len(trt.calibration_batches)))

    trt.ILogger = ILogger
    trt.Logger = Logger
    trt.IInt8EntropyCalibrator2 = IInt8EntropyCalibrator2
    trt.Builder = Builder
    trt.OnnxParser = OnnxParser
