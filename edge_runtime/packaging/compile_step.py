"""The packaging job's only contact with the compiler's build step: compile a package.

Kept to this function so the job runner and its tests see one small seam. The compiler owns what
CompilerOptions may say (the request carries its validated `CompileTarget`) and how a compiled package
looks (edge-build.json, deferred TensorRT builds); packaging only ZIPs the folder it gets back.
"""

from __future__ import annotations

from typing import Any, Optional

from edge_runtime.progress import ProgressSink


def compile_package(model_dir: str, target: Any, output_dir: str, progress: Optional[ProgressSink] = None) -> str:
    """Compile `model_dir` for `target` into `output_dir` (a compiled package folder); returns it.

    Deferred TensorRT builds (an NVIDIA target compiled on a machine that cannot build its engine)
    come back as a package whose edge-build.json says so; the agent builds the engine on the device.
    """
    from edge_runtime.compiler.compile import compile_package as compiler_compile

    if progress is None:
        return compiler_compile(model_dir, target, output_dir).output_dir
    return compiler_compile(model_dir, target, output_dir, progress=progress).output_dir
