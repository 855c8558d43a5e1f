"""The runtime half of the fake `tensorrt` module, in the flavour of TensorRT 8.5 (bindings API) or 10
(tensor API); tests/fakes/tensorrt.py puts the halves together.

It is a fake because TensorRT cannot exist here: it needs an NVIDIA GPU and the JetPack/CUDA libraries,
and this machine has neither. It exposes only the API of its version (an 8.5 engine has no
`get_tensor_name`, a 10 engine no `get_binding_index`), checks what TensorRT would refuse (shapes
outside the context's profile, a binding of another profile, an unset address) and records every call
in `module.calls`. "Inference" reads the input batch from EmulatedDevice memory and writes outputs a
test can recompute: score = sigmoid(mean of channel 0), seg = the 3 input channels average-pooled.
"""

from __future__ import annotations

import types
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

FLOAT, HALF = "FLOAT", "HALF"


class EngineSpec:
    """What the fake engine looks like: input size, outputs, dtypes, batch profiles or a static batch."""

    def __init__(
        self,
        height: int = 32,
        width: int = 32,
        seg: Optional[Tuple[int, int, int]] = None,
        profiles: Sequence[Tuple[int, int, int]] = ((1, 4, 4), (1, 4, 4)),
        static_batch: int = 0,
        input_dtype: str = FLOAT,
        output_dtype: str = FLOAT,
    ) -> None:
        self.height, self.width, self.seg = height, width, seg
        self.profiles = list(profiles) if not static_batch else [(static_batch,) * 3]
        self.static_batch = static_batch
        self.input_dtype, self.output_dtype = input_dtype, output_dtype

    def tensors(self) -> List[Tuple[str, bool, Tuple[int, ...], str]]:
        n = self.static_batch or -1
        out = [
            ("image", True, (n, 3, self.height, self.width), self.input_dtype),
            ("score", False, (n,), self.output_dtype),
        ]
        if self.seg:
            out.append(("seg", False, (n,) + tuple(self.seg), self.output_dtype))
        return out


def reference_outputs(batch: np.ndarray, seg: Optional[Tuple[int, int, int]]) -> Dict[str, np.ndarray]:
    """What the fake engine computes, for tests to compare with."""
    batch = batch.astype(np.float32)
    out = {"score": 1.0 / (1.0 + np.exp(-batch[:, 0].mean(axis=(1, 2))))}
    if seg:
        c, h, w = seg
        n, _, height, width = batch.shape
        out["seg"] = batch[:, :c].reshape(n, c, h, height // h, w, width // w).mean(axis=(3, 5))
    return out


class _Engine:
    def __init__(self, module: Any, spec: EngineSpec) -> None:
        self.m, self.spec = module, spec
        self.io = spec.tensors()
        self.num_optimization_profiles = len(spec.profiles)
        self.seen_inputs: List[np.ndarray] = []

    def create_execution_context(self) -> Any:
        self.m.calls.append(("create_execution_context",))
        return _Context(self)

    def _shape_ok(self, profile: int, shape: Tuple[int, ...]) -> bool:
        low, _, high = self.spec.profiles[profile]
        return low <= shape[0] <= high and tuple(shape[1:]) == self.io[0][2][1:]

    def run(self, context: "_Context", addresses: Dict[str, int], batch: int) -> bool:
        device = self.m.device
        missing = [name for name, *_ in self.io if not addresses.get(name)]
        if missing:
            raise AssertionError("execute with unset addresses %s" % missing)
        dt = {FLOAT: np.float32, HALF: np.float16}
        image = self.io[0]
        count = batch * 3 * self.spec.height * self.spec.width
        data = device.view(addresses["image"], count * np.dtype(dt[image[3]]).itemsize).view(dt[image[3]])
        data = data.reshape(batch, 3, self.spec.height, self.spec.width).copy()
        self.seen_inputs.append(data)
        for name, value in reference_outputs(data, self.spec.seg).items():
            raw = value.astype(dt[self.spec.output_dtype]).reshape(-1).view(np.uint8)
            device.view(addresses[name], raw.size)[:] = raw
        return True


class _Context:
    def __init__(self, engine: _Engine) -> None:
        self.engine, self.m = engine, engine.m
        self.profile = 0
        self.shape: Optional[Tuple[int, ...]] = None
        self.addresses: Dict[str, int] = {}

    def set_optimization_profile_async(self, profile: int, stream: int) -> bool:
        self.m.calls.append(("set_optimization_profile_async", id(self), profile, stream))
        self.profile = profile
        return True

    def _batch(self) -> int:
        if self.engine.spec.static_batch:
            return self.engine.spec.static_batch
        if self.shape is None:
            raise AssertionError("execute before the input shape was set")
        return self.shape[0]


class _Context85(_Context):
    def set_binding_shape(self, index: int, shape: Tuple[int, ...]) -> bool:
        self.m.calls.append(("set_binding_shape", id(self), index, tuple(shape)))
        per = len(self.engine.io)
        if index != self.profile * per or not self.engine._shape_ok(self.profile, shape):
            return False
        self.shape = tuple(shape)
        return True

    def get_binding_shape(self, index: int) -> Tuple[int, ...]:
        name, _, shape, _ = self.engine.io[index % len(self.engine.io)]
        return (self._batch(),) + tuple(shape[1:])

    def execute_async_v2(self, bindings: List[int], stream_handle: int) -> bool:
        self.m.calls.append(("execute_async_v2", id(self), tuple(bindings), stream_handle))
        per = len(self.engine.io)
        if len(bindings) != per * self.engine.num_optimization_profiles:
            raise AssertionError("bindings list must cover every profile's bindings")
        own = {name: bindings[self.profile * per + i] for i, (name, *_) in enumerate(self.engine.io)}
        return self.engine.run(self, own, self._batch())


class _Context10(_Context):
    def set_input_shape(self, name: str, shape: Tuple[int, ...]) -> bool:
        self.m.calls.append(("set_input_shape", id(self), name, tuple(shape)))
        if name != "image" or not self.engine._shape_ok(self.profile, shape):
            return False
        self.shape = tuple(shape)
        return True

    def set_tensor_address(self, name: str, address: int) -> bool:
        self.m.calls.append(("set_tensor_address", id(self), name, address))
        self.addresses[name] = address
        return True

    def get_tensor_shape(self, name: str) -> Tuple[int, ...]:
        shape = [t[2] for t in self.engine.io if t[0] == name][0]
        return (self._batch(),) + tuple(shape[1:])

    def execute_async_v3(self, stream_handle: int) -> bool:
        self.m.calls.append(("execute_async_v3", id(self), stream_handle))
        return self.engine.run(self, self.addresses, self._batch())


class _Engine85(_Engine):
    @property
    def num_bindings(self) -> int:
        return len(self.io) * self.num_optimization_profiles

    def create_execution_context(self) -> Any:
        self.m.calls.append(("create_execution_context",))
        return _Context85(self)

    def get_binding_name(self, i: int) -> str:
        return self.io[i % len(self.io)][0] + ("" if i < len(self.io) else " [profile %d]" % (i // len(self.io)))

    def binding_is_input(self, i: int) -> bool:
        return self.io[i % len(self.io)][1]

    def get_binding_shape(self, i: int) -> Tuple[int, ...]:
        return self.io[i % len(self.io)][2]

    def get_binding_dtype(self, i: int) -> str:
        return self.io[i % len(self.io)][3]

    def get_binding_index(self, name: str) -> int:
        names = [t[0] for t in self.io]
        return names.index(name) if name in names else -1

    def get_profile_shape(self, profile: int, binding: int) -> List[Tuple[int, ...]]:
        if binding != profile * len(self.io):
            raise AssertionError("profile shapes asked for binding %d of profile %d" % (binding, profile))
        return [(b,) + self.io[0][2][1:] for b in self.spec.profiles[profile]]


class _Engine10(_Engine):
    @property
    def num_io_tensors(self) -> int:
        return len(self.io)

    def create_execution_context(self) -> Any:
        self.m.calls.append(("create_execution_context",))
        return _Context10(self)

    def get_tensor_name(self, i: int) -> str:
        return self.io[i][0]

    def _t(self, name: str) -> Tuple[str, bool, Tuple[int, ...], str]:
        return [t for t in self.io if t[0] == name][0]

    def get_tensor_mode(self, name: str) -> str:
        return "INPUT" if self._t(name)[1] else "OUTPUT"

    def get_tensor_shape(self, name: str) -> Tuple[int, ...]:
        return self._t(name)[2]

    def get_tensor_dtype(self, name: str) -> str:
        return self._t(name)[3]

    def get_tensor_profile_shape(self, name: str, profile: int) -> List[Tuple[int, ...]]:
        return [(b,) + self._t(name)[2][1:] for b in self.spec.profiles[profile]]


def add_runtime(m: Any, version: str, spec: EngineSpec, device: Any) -> None:
    """Give the module `m` the runtime API; `deserialize_cuda_engine(b"bad")` returns None as TensorRT does."""
    major = int(version.split(".")[0])
    m.device, m.engines = device, []
    m.nptype = lambda dt: {FLOAT: np.float32, HALF: np.float16}[dt]
    if major >= 10:
        m.TensorIOMode = types.SimpleNamespace(INPUT="INPUT", OUTPUT="OUTPUT")

    class Runtime:
        def __init__(self, logger: Any) -> None:
            m.calls.append(("Runtime",))

        def deserialize_cuda_engine(self, data: bytes) -> Any:
            m.calls.append(("deserialize_cuda_engine", len(data)))
            if data == b"bad":
                return None
            engine = (_Engine10 if major >= 10 else _Engine85)(m, spec)
            m.engines.append(engine)
            return engine

    m.Runtime = Runtime
