"""The engine-build tests use the compiler tests' tiny package and fake `tensorrt` (TensorRT cannot exist here)."""

from tests.compiler.conftest import fake_trt, tiny_package

__all__ = ["fake_trt", "tiny_package"]
