"""Compile the kernels with NVRTC for one GPU architecture, cached on disk per architecture.

NVRTC runs without a GPU or driver, so this is tested in CI for sm_72 (Jetson Xavier, needs the CUDA
11/12 NVRTC: CUDA 13 dropped sm_72) and sm_90. A device whose architecture this NVRTC does not know
(newer than the toolkit) gets PTX for the newest virtual architecture NVRTC offers, which the driver
JIT-compiles. The cache key covers the source, the options, the NVRTC version and the target, so a
changed kernel or toolkit never loads a stale binary. Files are written to a temp name then renamed.
Python 3.8 compatible.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, Tuple

from edge_runtime.errors import CompileError, InvalidArgument
from edge_runtime.runtime.gpu.cuda_api import CudaError, check, load_nvrtc
from edge_runtime.runtime.gpu.kernels import KERNEL_SOURCE

log = logging.getLogger(__name__)

BASE_OPTIONS = ("--fmad=false", "--std=c++11")
CACHE_ENV = "EDGE_RUNTIME_KERNEL_CACHE"


@dataclass(frozen=True)
class CompiledKernels:
    """A loadable image: `kind` "cubin" (real architecture) or "ptx" (virtual, JIT by the driver)."""

    image: bytes
    kind: str
    target: str  # e.g. "sm_72" or "compute_90"
    nvrtc_version: Tuple[int, int]
    from_cache: bool = False


def default_cache_dir() -> str:
    return os.environ.get(CACHE_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "edge-runtime", "kernels")


def nvrtc_version() -> Tuple[int, int]:
    nvrtc = load_nvrtc()
    major, minor = check(nvrtc.nvrtcVersion(), "nvrtcVersion")
    return int(major), int(minor)


def supported_architectures() -> List[int]:
    """Compute capabilities (e.g. 72, 90) this NVRTC can emit cubins for."""
    nvrtc = load_nvrtc()
    if not hasattr(nvrtc, "nvrtcGetSupportedArchs"):  # NVRTC < 11.2
        return []
    return sorted(int(a) for a in check(nvrtc.nvrtcGetSupportedArchs(), "nvrtcGetSupportedArchs"))


def choose_target(major: int, minor: int) -> str:
    """sm_XY when NVRTC supports the device, else compute_ZW for the newest architecture it has."""
    wanted = major * 10 + minor
    known = supported_architectures()
    if not known or wanted in known:
        return "sm_%d" % wanted
    older = [a for a in known if a <= wanted]
    if not older:
        raise CompileError("NVRTC %d.%d cannot target sm_%d (it supports %s)" % (nvrtc_version() + (wanted, known)))
    return "compute_%d" % max(older)


def compile_source(
    target: str, source: str = KERNEL_SOURCE, options: Sequence[str] = BASE_OPTIONS, name: str = "edge_kernels.cu"
) -> CompiledKernels:
    """Run NVRTC once; CompileError carries NVRTC's log when the source does not compile."""
    if not (target.startswith("sm_") or target.startswith("compute_")) or not target.split("_", 1)[1].isdigit():
        raise InvalidArgument("target must look like sm_72 or compute_90, got %r" % (target,))
    nvrtc = load_nvrtc()
    program = check(nvrtc.nvrtcCreateProgram(source.encode(), name.encode(), 0, [], []), "nvrtcCreateProgram")
    try:
        opts = [("--gpu-architecture=%s" % target).encode()] + [o.encode() for o in options]
        try:
            check(nvrtc.nvrtcCompileProgram(program, len(opts), opts), "nvrtcCompileProgram")
        except CudaError as exc:
            raise CompileError(
                "NVRTC could not compile the kernels for %s:\n%s" % (target, _log(nvrtc, program))
            ) from exc
        cubin = target.startswith("sm_")
        image = _read(nvrtc, program, cubin)
    finally:
        check(nvrtc.nvrtcDestroyProgram(program), "nvrtcDestroyProgram")
    return CompiledKernels(image, "cubin" if cubin else "ptx", target, nvrtc_version())


def _log(nvrtc: Any, program: Any) -> str:
    size = check(nvrtc.nvrtcGetProgramLogSize(program), "nvrtcGetProgramLogSize")
    buffer = b" " * int(size)
    check(nvrtc.nvrtcGetProgramLog(program, buffer), "nvrtcGetProgramLog")
    return buffer.rstrip(b"\0 ").decode(errors="replace")


def _read(nvrtc: Any, program: Any, cubin: bool) -> bytes:
    if cubin:
        size = check(nvrtc.nvrtcGetCUBINSize(program), "nvrtcGetCUBINSize")
        buffer = b" " * int(size)
        check(nvrtc.nvrtcGetCUBIN(program, buffer), "nvrtcGetCUBIN")
    else:
        size = check(nvrtc.nvrtcGetPTXSize(program), "nvrtcGetPTXSize")
        buffer = b" " * int(size)
        check(nvrtc.nvrtcGetPTX(program, buffer), "nvrtcGetPTX")
    return bytes(buffer)


def cache_key(target: str, source: str, options: Sequence[str], version: Tuple[int, int]) -> str:
    digest = hashlib.sha256()
    for part in (source, "\0".join(options), "%d.%d" % version, target):
        digest.update(part.encode())
        digest.update(b"\1")
    return digest.hexdigest()[:24]


def load_or_compile(
    major: int,
    minor: int,
    cache_dir: Optional[str] = None,
    source: str = KERNEL_SOURCE,
    options: Sequence[str] = BASE_OPTIONS,
) -> CompiledKernels:
    """The kernels for a device of compute capability major.minor, from the cache or freshly compiled."""
    target = choose_target(major, minor)
    version = nvrtc_version()
    folder = cache_dir or default_cache_dir()
    kind = "cubin" if target.startswith("sm_") else "ptx"
    path = os.path.join(folder, "edge-kernels-%s-%s.%s" % (target, cache_key(target, source, options, version), kind))
    if os.path.isfile(path):
        with open(path, "rb") as fh:
            return CompiledKernels(fh.read(), kind, target, version, from_cache=True)
    compiled = compile_source(target, source, options)
    try:
        _write_atomically(path, compiled.image)
    except OSError as exc:  # a read-only home is no reason to fail: compile again next time
        log.warning("could not cache compiled kernels at %s: %s", path, exc)
    return compiled


def _write_atomically(path: str, data: bytes) -> None:
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
