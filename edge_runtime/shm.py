"""POSIX shared memory for frames and masks: an explicit create/open -> view/write -> close -> unlink cycle.

Line software passes images to the agent by naming a segment (`/gstreamer-lookoutvision-bitmap`), an
offset and a size instead of copying megabytes through gRPC. This module maps `/dev/shm/<name>` with
`mmap` directly. It deliberately avoids `multiprocessing.shared_memory`: on Python 3.8 its resource
tracker unlinks, at exit, segments that the process merely opened, destroying the client's segment.

Lifecycle (no finalisers; whoever creates or opens a segment closes it):

    seg = SharedMemorySegment.create("/frames", 1920 * 1080 * 3)   # or .open("/frames")
    frame = seg.array(0, (1080, 1920, 3))                           # zero-copy numpy view
    seg.write(0, data)
    seg.close()                                                     # unmap
    seg.unlink()                                                    # remove the name (creator's job)

The agent itself never maps a caller's segment: it reads and writes through the file descriptor with
the caller's rights (`edge_runtime.agent.segments`), so a client that shrinks its segment cannot
SIGBUS it. This class is for the owners of segments: clients, the bench, embedders.

`close()` while numpy views of the segment are still alive cannot unmap at once (the views would
dangle); the mapping is then released when the last view is garbage collected. Python 3.8 compatible.
"""

from __future__ import annotations

import contextlib
import mmap
import os
from typing import Optional, Sequence, Tuple, Union

import numpy as np

from edge_runtime.errors import InvalidArgument, NotFound

SHM_DIR = "/dev/shm"
MAX_NAME_LENGTH = 255

Identity = Tuple[int, int, int]  # (st_dev, st_ino, st_size): changes when a client recreates a segment


def shm_path(name: str) -> str:
    """`/dev/shm/<name>` for a POSIX name; the leading slash is optional, other slashes are refused."""
    if not isinstance(name, str) or not name:
        raise InvalidArgument("shared memory name must be a non-empty POSIX name like /frames, got %r" % (name,))
    bare = name[1:] if name.startswith("/") else name
    if not bare or "/" in bare or "\0" in bare or bare in (".", "..") or len(bare) > MAX_NAME_LENGTH:
        raise InvalidArgument(
            "shared memory name must be a POSIX name: a leading slash, then 1..%d characters without "
            "another slash, got %r" % (MAX_NAME_LENGTH, name)
        )
    return os.path.join(SHM_DIR, bare)


def path_identity(name: str) -> Optional[Identity]:
    """The identity of the segment now behind `name`, or None when there is none."""
    try:
        st = os.stat(shm_path(name))
    except FileNotFoundError:
        return None
    return (st.st_dev, st.st_ino, st.st_size)


class SharedMemorySegment:
    """One mapped POSIX shared-memory segment. Construct with `create` or `open`, never directly."""

    def __init__(self, name: str, path: str, buffer: Optional[mmap.mmap], identity: Identity, writable: bool) -> None:
        self.name = name
        self.path = path
        self.identity = identity
        self.writable = writable
        self._mmap = buffer

    @property
    def size(self) -> int:
        return self.identity[2]

    @property
    def closed(self) -> bool:
        return self._mmap is None

    @classmethod
    def create(cls, name: str, size: int, mode: int = 0o660) -> "SharedMemorySegment":
        """Create a new segment of `size` bytes; fails when the name exists (unlink it first)."""
        if size <= 0:
            raise InvalidArgument("shared memory size must be > 0 bytes, got %d" % size)
        path = shm_path(name)
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, mode)
        except FileExistsError:
            raise InvalidArgument("shared memory segment %s exists already" % name) from None
        try:
            os.ftruncate(fd, size)
            return cls._map(name, path, fd, writable=True)
        except BaseException:
            os.unlink(path)
            raise
        finally:
            os.close(fd)

    @classmethod
    def open(cls, name: str, writable: bool = True) -> "SharedMemorySegment":
        """Map an existing segment, read-write by default (read-only when `writable` is False)."""
        path = shm_path(name)
        try:
            fd = os.open(path, os.O_RDWR if writable else os.O_RDONLY)
        except FileNotFoundError:
            raise NotFound("shared memory segment %s does not exist (expected %s)" % (name, path)) from None
        try:
            return cls._map(name, path, fd, writable)
        finally:
            os.close(fd)

    @classmethod
    def _map(cls, name: str, path: str, fd: int, writable: bool) -> "SharedMemorySegment":
        st = os.fstat(fd)
        identity = (st.st_dev, st.st_ino, st.st_size)
        if st.st_size == 0:  # mmap refuses empty files; such a segment holds nothing to view
            return cls(name, path, None, identity, writable)
        access = mmap.ACCESS_WRITE if writable else mmap.ACCESS_READ
        return cls(name, path, mmap.mmap(fd, st.st_size, access=access), identity, writable)

    def check_range(self, offset: int, size: int) -> None:
        """Raise InvalidArgument unless [offset, offset + size) lies inside the segment."""
        if offset < 0 or size < 0 or offset + size > self.size:
            raise InvalidArgument(
                "offset %d + size %d = %d is beyond shared memory segment %s of %d bytes"
                % (offset, size, offset + size, self.name, self.size)
            )

    def _buffer(self) -> mmap.mmap:
        if self._mmap is None:
            if self.size == 0:
                raise InvalidArgument("shared memory segment %s is empty (0 bytes)" % self.name)
            raise ValueError("shared memory segment %s is closed" % self.name)
        return self._mmap

    def view(self, offset: int, size: int) -> memoryview:
        """A zero-copy memoryview of `size` bytes at `offset`."""
        self.check_range(offset, size)
        if size == 0:
            return memoryview(b"")
        return memoryview(self._buffer())[offset : offset + size]

    def array(self, offset: int, shape: Sequence[int], dtype: Union[str, type] = np.uint8) -> np.ndarray:
        """A zero-copy numpy view (e.g. an HxWx3 uint8 frame) starting at `offset`."""
        dt = np.dtype(dtype)
        size = int(np.prod(shape)) * dt.itemsize
        self.check_range(offset, size)
        arr = np.frombuffer(self._buffer(), dtype=dt, count=int(np.prod(shape)), offset=offset)
        return arr.reshape(tuple(shape))

    def read(self, offset: int, size: int) -> bytes:
        """A copy of `size` bytes at `offset`."""
        return bytes(self.view(offset, size))

    def write(self, offset: int, data: Union[bytes, bytearray, memoryview, np.ndarray]) -> int:
        """Copy `data` into the segment at `offset`; returns the number of bytes written."""
        if not self.writable:
            raise InvalidArgument("shared memory segment %s is open read-only" % self.name)
        if isinstance(data, np.ndarray):
            flat = np.ascontiguousarray(data).reshape(-1).view(np.uint8)
            self.array(offset, (flat.size,))[:] = flat
            return int(flat.size)
        raw = memoryview(data).cast("B")
        self.check_range(offset, raw.nbytes)
        if raw.nbytes:
            self._buffer()[offset : offset + raw.nbytes] = raw
        return raw.nbytes

    def close(self) -> None:
        """Unmap. Idempotent. Live numpy views keep the mapping until they are collected."""
        buffer, self._mmap = self._mmap, None
        if buffer is None:
            return
        # With views still exported close() raises BufferError; the mmap then unmaps itself later.
        with contextlib.suppress(BufferError):
            buffer.close()

    def unlink(self) -> None:
        """Remove the name, if it still names this segment; the memory lives until every mapping closes."""
        current = path_identity(self.name)
        if current is not None and current[:2] == self.identity[:2]:  # same device and inode
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)

    def __enter__(self) -> "SharedMemorySegment":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return "SharedMemorySegment(%r, size=%d%s)" % (self.name, self.size, ", closed" if self.closed else "")
