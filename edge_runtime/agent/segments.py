"""The caller's shared memory, read and written with the caller's rights and never mapped.

The agent often runs as root next to other users' software, so a shared-memory handle is checked
against the caller, not the agent: the segment is opened with O_NOFOLLOW | O_NONBLOCK (a symbolic
link, a FIFO or a socket in /dev/shm is refused, and opening never blocks), `fstat` must show a
regular file, and the caller's uid/gids (SO_PEERCRED, see `unix_listener`) must have read rights on it
(and write rights for a mask) by its owner/group/other bits, or PERMISSION_DENIED.

Frames are copied out with `preadv` instead of being read through an mmap: a client that truncates its
segment while a request is in flight then makes the read come back short (INVALID_ARGUMENT) instead of
killing the agent with SIGBUS. Masks go back with `pwrite`, which cannot fault either. The one copy
costs about as much as a memcpy of the frame (measured in `benchmarks/shm_read.py`).
Python 3.8 compatible.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from typing import FrozenSet, Optional

import numpy as np

from edge_runtime.errors import InvalidArgument, PermissionDenied
from edge_runtime.shm import shm_path

READ_BITS = (stat.S_IRUSR, stat.S_IRGRP, stat.S_IROTH)
WRITE_BITS = (stat.S_IWUSR, stat.S_IWGRP, stat.S_IWOTH)


@dataclass(frozen=True)
class Caller:
    """Who is on the other end of a connection, as the kernel reported it when it connected."""

    pid: int
    uid: int
    gid: int
    groups: FrozenSet[int] = frozenset()

    def may(self, st: os.stat_result, write: bool) -> bool:
        """POSIX owner/group/other rights of `st` for this caller (root may do anything)."""
        if self.uid == 0:
            return True
        owner, group, other = WRITE_BITS if write else READ_BITS
        if st.st_uid == self.uid:
            return bool(st.st_mode & owner)
        if st.st_gid == self.gid or st.st_gid in self.groups:
            return bool(st.st_mode & group)
        return bool(st.st_mode & other)


def _open(name: str, write: bool) -> int:
    path = shm_path(name)
    flags = (os.O_RDWR if write else os.O_RDONLY) | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
    try:
        return os.open(path, flags)
    except FileNotFoundError:
        raise InvalidArgument("shared memory segment %s does not exist (expected %s)" % (name, path)) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InvalidArgument("shared memory segment %s is a symbolic link; name the segment" % name) from None
        if exc.errno in (errno.EISDIR, errno.ENXIO, errno.ENODEV, errno.EOPNOTSUPP):
            raise InvalidArgument("shared memory segment %s is not a regular file" % name) from None
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise PermissionDenied("shared memory segment %s cannot be opened by the agent" % name) from None
        raise InvalidArgument("shared memory segment %s cannot be opened: %s" % (name, exc.strerror)) from None


class CallerSegment:
    """One open segment, checked for `caller`; close() it (or use `with`)."""

    def __init__(self, name: str, caller: Optional[Caller], write: bool = False) -> None:
        if caller is None:
            raise PermissionDenied(
                "shared memory handles are accepted only on the agent's Unix socket, where the caller's "
                "user is known; send the bitmap as byte_data on this connection"
            )
        self.name = name
        self._fd = _open(name, write)
        try:
            st = os.fstat(self._fd)
            if not stat.S_ISREG(st.st_mode):
                raise InvalidArgument("shared memory segment %s is not a regular file" % name)
            if not caller.may(st, write):
                raise PermissionDenied(
                    "uid %d may not %s shared memory segment %s (owner uid %d, mode %04o)"
                    % (caller.uid, "write" if write else "read", name, st.st_uid, stat.S_IMODE(st.st_mode))
                )
        except BaseException:
            os.close(self._fd)
            raise

    def size(self) -> int:
        return os.fstat(self._fd).st_size

    def check_range(self, offset: int, size: int) -> None:
        current = self.size()
        if offset < 0 or size < 0 or offset + size > current:
            raise InvalidArgument(
                "offset %d + size %d = %d is beyond shared memory segment %s of %d bytes"
                % (offset, size, offset + size, self.name, current)
            )

    def read(self, offset: int, size: int) -> np.ndarray:
        """A private copy of `size` bytes at `offset` (uint8, 1-D); short when the client shrank it."""
        self.check_range(offset, size)
        out = np.empty(size, dtype=np.uint8)  # not zero-filled: preadv writes every byte or we raise
        done = 0
        view = out.data
        while done < size:
            got = os.preadv(self._fd, [view[done:]], offset + done)
            if got == 0:
                raise InvalidArgument(
                    "shared memory segment %s shrank to %d bytes while the agent read %d bytes at offset %d"
                    % (self.name, self.size(), size, offset)
                )
            done += got
        return out

    def write(self, offset: int, data: np.ndarray) -> None:
        raw = np.ascontiguousarray(data).reshape(-1).view(np.uint8).data
        self.check_range(offset, raw.nbytes)
        done = 0
        while done < raw.nbytes:
            done += os.pwrite(self._fd, raw[done:], offset + done)

    def close(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)

    def __enter__(self) -> "CallerSegment":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
