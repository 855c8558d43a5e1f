"""The one place TensorRT's Python API differences are handled: bindings API (< 10) vs tensor API (10+).

TensorRT 8.5 (JetPack 5.1, Python 3.8) addresses I/O by binding index, with one set of bindings per
optimization profile (index = profile * bindings_per_profile + index in profile 0) and runs with
`execute_async_v2(bindings, stream)`. TensorRT 10 removed bindings: tensors are named, shapes set with
`set_input_shape`, addresses with `set_tensor_address`, and `execute_async_v3(stream)` runs. Callers see
one small interface either way. The version is parsed (as integers) and range-checked by
edge_runtime.runtime.build.versions, the project's one version module.
Python 3.8 compatible; the tensorrt module is passed in, never imported here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

from edge_runtime.errors import FailedPrecondition

TENSOR_API_SINCE = (10, 0)


def tensorrt_version(trt: Any) -> Tuple[int, ...]:
    """The installed TensorRT's version as integers, refused outside the supported range (runtime.build.versions)."""
    from edge_runtime.runtime.build.versions import tensorrt_version as parse_installed

    return tuple(parse_installed(trt))


def uses_tensor_api(version: Tuple[int, ...]) -> bool:
    return tuple(version) >= TENSOR_API_SINCE


@dataclass(frozen=True)
class TensorInfo:
    name: str
    is_input: bool
    shape: Tuple[int, ...]  # -1 marks a dynamic dimension
    dtype: np.dtype


class BindingsApi:
    """TensorRT < 10: binding indices, one set per optimization profile."""

    kind = "bindings"

    def __init__(self, trt: Any, engine: Any) -> None:
        self.trt = trt
        self.engine = engine
        self.profiles = max(1, int(engine.num_optimization_profiles))
        self.per_profile = int(engine.num_bindings) // self.profiles

    def tensors(self) -> List[TensorInfo]:
        e = self.engine
        return [
            TensorInfo(
                e.get_binding_name(i),
                bool(e.binding_is_input(i)),
                tuple(e.get_binding_shape(i)),
                np.dtype(self.trt.nptype(e.get_binding_dtype(i))),
            )
            for i in range(self.per_profile)
        ]

    def index(self, name: str, profile: int) -> int:
        base = int(self.engine.get_binding_index(name))
        if base < 0:
            raise FailedPrecondition("the TensorRT engine has no tensor named %r" % name)
        return profile * self.per_profile + base

    def profile_shapes(self, name: str, profile: int) -> Sequence[Tuple[int, ...]]:
        return [tuple(s) for s in self.engine.get_profile_shape(profile, self.index(name, profile))]

    def set_input_shape(self, context: Any, profile: int, name: str, shape: Tuple[int, ...]) -> None:
        if context.set_binding_shape(self.index(name, profile), tuple(shape)) is False:
            raise FailedPrecondition("TensorRT refused input shape %s for %r" % (shape, name))

    def output_shape(self, context: Any, profile: int, name: str) -> Tuple[int, ...]:
        return tuple(context.get_binding_shape(self.index(name, profile)))

    def execute(self, context: Any, profile: int, addresses: Dict[str, int], stream: int) -> None:
        bindings = [0] * int(self.engine.num_bindings)
        for name, address in addresses.items():
            bindings[self.index(name, profile)] = int(address)
        if context.execute_async_v2(bindings=bindings, stream_handle=stream) is False:
            raise FailedPrecondition("TensorRT execute_async_v2 failed")


class TensorApi:
    """TensorRT 10+: named I/O tensors."""

    kind = "tensors"

    def __init__(self, trt: Any, engine: Any) -> None:
        self.trt = trt
        self.engine = engine
        self.profiles = max(1, int(engine.num_optimization_profiles))

    def tensors(self) -> List[TensorInfo]:
        e, mode = self.engine, self.trt.TensorIOMode.INPUT
        names = [e.get_tensor_name(i) for i in range(int(e.num_io_tensors))]
        return [
            TensorInfo(
                n,
                e.get_tensor_mode(n) == mode,
                tuple(e.get_tensor_shape(n)),
                np.dtype(self.trt.nptype(e.get_tensor_dtype(n))),
            )
            for n in names
        ]

    def profile_shapes(self, name: str, profile: int) -> Sequence[Tuple[int, ...]]:
        return [tuple(s) for s in self.engine.get_tensor_profile_shape(name, profile)]

    def set_input_shape(self, context: Any, profile: int, name: str, shape: Tuple[int, ...]) -> None:
        if context.set_input_shape(name, tuple(shape)) is False:
            raise FailedPrecondition("TensorRT refused input shape %s for %r" % (shape, name))

    def output_shape(self, context: Any, profile: int, name: str) -> Tuple[int, ...]:
        return tuple(context.get_tensor_shape(name))

    def execute(self, context: Any, profile: int, addresses: Dict[str, int], stream: int) -> None:
        for name, address in addresses.items():
            if context.set_tensor_address(name, int(address)) is False:
                raise FailedPrecondition("TensorRT refused the address of %r" % name)
        if context.execute_async_v3(stream_handle=stream) is False:
            raise FailedPrecondition("TensorRT execute_async_v3 failed")


def select_api(trt: Any, engine: Any) -> Any:
    """BindingsApi or TensorApi for the installed TensorRT: the single version gate."""
    if uses_tensor_api(tensorrt_version(trt)):
        return TensorApi(trt, engine)
    return BindingsApi(trt, engine)


def create_context(engine: Any, profile: int, stream: int) -> Any:
    """A new execution context bound to `profile` (same call in both APIs)."""
    context = engine.create_execution_context()
    if context is None:
        raise FailedPrecondition("TensorRT could not create an execution context (out of GPU memory?)")
    if profile or int(engine.num_optimization_profiles) > 1:
        context.set_optimization_profile_async(profile, stream)
    return context
