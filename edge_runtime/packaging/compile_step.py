"""The packaging job's only contact with the compiler: validate a target, compile a package.

Kept to these two functions so the job runner and its tests see one small seam. The compiler owns
what CompilerOptions may say (`validate_target`) and how a compiled package looks (edge-build.json,
deferred TensorRT builds); packaging only ZIPs the folder it gets back.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from edge_runtime.packaging.request import PackagingRequest

Progress = Callable[[str], None]


def validate_target(request: PackagingRequest) -> Any:
    """The compiler's CompileTarget for the request; CompileError names the offending option."""
    from edge_runtime.compiler.targets import validate_target as compiler_validate

    platform = request.target_platform.to_dict() if request.target_platform else None
    return compiler_validate(request.target_device, platform, request.compiler_options)


def compile_package(model_dir: str, target: Any, output_dir: str, progress: Optional[Progress] = None) -> str:
    """Compile `model_dir` for `target` into `output_dir` (a compiled package folder); returns it.

    Deferred TensorRT builds (an NVIDIA target compiled on a machine that cannot build its engine)
    come back as a package whose edge-build.json says so; the agent builds the engine on the device.
    """
    from edge_runtime.compiler.compile import compile_package as compiler_compile

    if progress is None:
        return compiler_compile(model_dir, target, output_dir).output_dir
    return compiler_compile(model_dir, target, output_dir, progress=progress).output_dir
