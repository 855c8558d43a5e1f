"""The agent's public Unix socket: taken under a lock, and every caller's identity learnt from the kernel.

gRPC Python cannot tell a handler who is on the other end of a Unix socket, and shared-memory handles
must be checked against that user (see `segments`). So the agent accepts on the public socket itself,
reads SO_PEERCRED (pid, uid, gid; supplementary groups from /proc/<pid>/status) for each connection,
and relays its bytes to the gRPC server listening on a private socket in a 0700 folder. Each relay
connects from its own abstract address, which gRPC reports as the call's `peer()`, so `caller(peer)`
finds the identity for a call. Connections are bounded (`max_connections`); one more is closed at once.

The socket path is taken with an flock on `<path>.lock`: a second agent on the same path is refused
(naming the pid holding it), and so is any path where something still answers. A stale socket left by
a crashed agent is replaced. On close the socket is unlinked only if it is still ours (same inode).
Python 3.8 compatible.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import itertools
import logging
import os
import shutil
import socket
import stat
import struct
import tempfile
import threading
import time
from typing import Dict, FrozenSet, Optional

from edge_runtime.agent.segments import Caller
from edge_runtime.errors import InvalidArgument

log = logging.getLogger(__name__)

RELAY_BUFFER = 1 << 20
# Relay addresses are numbered per process, not per listener: a second listener in the same process
# (an agent restarted in-process, the tests) must not reuse a name a lingering relay still holds
# (bind: EADDRINUSE; seen under aarch64 emulation, where closing relays takes longer).
_RELAY_NUMBERS = itertools.count(1)


def _groups(pid: int) -> FrozenSet[int]:
    try:
        with open("/proc/%d/status" % pid) as fh:
            for line in fh:
                if line.startswith("Groups:"):
                    return frozenset(int(g) for g in line.split()[1:])
    except OSError:
        pass
    return frozenset()


def peer_caller(conn: socket.socket) -> Caller:
    pid, uid, gid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    return Caller(pid=pid, uid=uid, gid=gid, groups=_groups(pid))


def _answers(path: str) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(path)
        return True
    except OSError:
        return False
    finally:
        probe.close()


class SocketLock:
    """An exclusive flock on `<socket path>.lock`, holding the owner's pid for the refusal message."""

    def __init__(self, socket_path: str) -> None:
        self.path = socket_path + ".lock"
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            self._fd = os.open(self.path, flags, 0o644)
        except OSError as exc:
            raise InvalidArgument("cannot open the socket lock %s: %s" % (self.path, exc.strerror)) from None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.pread(self._fd, 32, 0).decode("ascii", "replace").strip() or "?"
            os.close(self._fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise InvalidArgument(
                    "another agent (pid %s) is serving on %s; stop it or set another server.socket"
                    % (holder, socket_path)
                ) from None
            raise
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, b"%d\n" % os.getpid(), 0)

    def release(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)  # closing drops the flock; the file stays (unlinking it would race a new agent)


class UnixListener:
    """Accepts on `path`, relays to a private gRPC socket, remembers each connection's Caller."""

    def __init__(self, path: str, max_connections: int = 256) -> None:
        self.path = os.path.abspath(path)
        self.max_connections = max_connections
        self._private_dir = ""
        self._callers: Dict[str, Caller] = {}
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._listener: Optional[socket.socket] = None
        self._socket_lock: Optional[SocketLock] = None
        self._inode = 0

    @property
    def grpc_address(self) -> str:
        """Where the gRPC server itself listens (only the agent's user can reach it)."""
        if not self._private_dir:
            self._private_dir = tempfile.mkdtemp(prefix="edge-agent-")  # mode 0700
        return "unix://" + os.path.join(self._private_dir, "grpc.sock")

    def bind(self) -> None:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self._socket_lock = SocketLock(self.path)
        try:
            self._replace_stale()
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(self.path)
            listener.listen(128)
        except BaseException:
            self._socket_lock.release()
            raise
        self._inode = os.stat(self.path).st_ino
        self._listener = listener
        threading.Thread(target=self._accept_loop, name="edge-agent-accept", daemon=True).start()

    def _replace_stale(self) -> None:
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(st.st_mode):
            raise InvalidArgument("server.socket %s exists and is not a socket; refusing to replace it" % self.path)
        if _answers(self.path):
            raise InvalidArgument("something answers on %s already; refusing to take it over" % self.path)
        os.unlink(self.path)  # a stale socket from an agent that died

    def caller(self, peer: str) -> Optional[Caller]:
        """The identity behind a gRPC `context.peer()`, or None (TCP, or not relayed by us)."""
        with self._lock:
            return self._callers.get(peer)

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._closed.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                if self._closed.is_set():
                    return
                continue
            try:
                self._start_relay(conn)
            except Exception as exc:  # one bad connection must not stop the accept loop
                log.warning("dropped a connection on %s: %s", self.path, exc)
                conn.close()

    def _start_relay(self, conn: socket.socket) -> None:
        caller = peer_caller(conn)
        with self._lock:
            if len(self._callers) >= self.max_connections:
                raise InvalidArgument("%d connections open already (the limit)" % self.max_connections)
            name = "edge-agent-%d-%d" % (os.getpid(), next(_RELAY_NUMBERS))
            self._callers["unix-abstract:" + name] = caller
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            upstream.bind("\0" + name)
            self._connect_upstream(upstream)
        except BaseException:
            upstream.close()
            self._forget(name)
            raise
        state = {"open": 2}
        for src, dst in ((conn, upstream), (upstream, conn)):
            args = (src, dst, conn, upstream, name, state)
            threading.Thread(target=self._pump, args=args, name="edge-agent-relay", daemon=True).start()

    def _connect_upstream(self, upstream: socket.socket) -> None:
        """Connect to gRPC's private socket; it refuses until server.start(), so wait up to 10 s."""
        deadline = time.monotonic() + 10.0
        while True:
            try:
                upstream.connect(self.grpc_address[len("unix://") :])
                return
            except (ConnectionRefusedError, FileNotFoundError):
                if time.monotonic() > deadline or self._closed.is_set():
                    raise
                time.sleep(0.02)

    def _forget(self, name: str) -> None:
        with self._lock:
            self._callers.pop("unix-abstract:" + name, None)

    def _pump(self, src: socket.socket, dst: socket.socket, conn: socket.socket, upstream: socket.socket,
              name: str, state: Dict[str, int]) -> None:
        buffer = bytearray(RELAY_BUFFER)
        view = memoryview(buffer)
        try:
            while True:
                got = src.recv_into(buffer)
                if not got:
                    break
                dst.sendall(view[:got])
        except OSError:
            pass
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)
        with self._lock:
            state["open"] -= 1
            last = state["open"] == 0
        if last:
            conn.close()
            upstream.close()
            self._forget(name)

    def close(self) -> None:
        """Stop accepting, unlink the socket if it is still ours, drop the lock and the private folder."""
        self._closed.set()
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
            with contextlib.suppress(FileNotFoundError):
                if os.lstat(self.path).st_ino == self._inode:
                    os.unlink(self.path)
        if self._socket_lock is not None:
            self._socket_lock.release()
            self._socket_lock = None
        if self._private_dir:
            shutil.rmtree(self._private_dir, ignore_errors=True)
            self._private_dir = ""
