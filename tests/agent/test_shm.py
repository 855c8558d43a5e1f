"""The shared-memory module's lifecycle on real /dev/shm segments (no fakes)."""

from __future__ import annotations

import os
import subprocess
import uuid

import numpy as np
import pytest

from edge_runtime.errors import InvalidArgument, NotFound
from edge_runtime.shm import SharedMemorySegment, shm_path

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV38 = os.path.join(ROOT, ".venv38", "bin", "python")


@pytest.fixture
def name():
    seg_name = "/edge-runtime-test-%s" % uuid.uuid4().hex[:12]
    yield seg_name
    if os.path.exists(shm_path(seg_name)):
        os.unlink(shm_path(seg_name))


def test_create_write_view_close_unlink_cycle(name):
    seg = SharedMemorySegment.create(name, 64 * 64 * 3 + 16)
    assert os.path.getsize("/dev/shm/" + name[1:]) == 64 * 64 * 3 + 16
    frame = np.arange(64 * 64 * 3, dtype=np.uint8).reshape(64, 64, 3)
    assert seg.write(16, frame) == frame.nbytes
    other = SharedMemorySegment.open(name)  # a second mapping sees the same bytes
    view = other.array(16, (64, 64, 3))
    assert np.array_equal(view, frame)
    frame2 = frame[::-1].copy()
    seg.write(16, frame2.tobytes())
    assert np.array_equal(view, frame2), "the view is zero-copy: it sees later writes"
    assert other.read(0, 4) == b"\0\0\0\0"
    del view
    other.close()
    seg.close()
    assert seg.closed and other.closed
    seg.close()  # idempotent
    seg.unlink()
    assert not os.path.exists(shm_path(name))
    with pytest.raises(NotFound, match="does not exist"):
        SharedMemorySegment.open(name)


def test_close_with_live_view_keeps_data_readable(name):
    seg = SharedMemorySegment.create(name, 100)
    seg.write(0, b"x" * 100)
    arr = seg.array(0, (100,))
    seg.close()  # cannot unmap yet: the array still points into the mapping
    assert seg.closed
    assert arr[99] == ord("x")
    seg.unlink()


def test_ranges_and_names_are_checked(name):
    seg = SharedMemorySegment.create(name, 10)
    with pytest.raises(InvalidArgument, match="beyond shared memory segment"):
        seg.view(8, 3)
    with pytest.raises(InvalidArgument, match="beyond"):
        seg.write(9, b"ab")
    with pytest.raises(InvalidArgument, match="exists already"):
        SharedMemorySegment.create(name, 10)
    for bad in ("", "/", "/a/b", "/..", "x" * 300):
        with pytest.raises(InvalidArgument, match="POSIX name"):
            shm_path(bad)
    assert shm_path(name[1:]) == shm_path(name)  # the leading slash is optional
    seg.close()
    seg.unlink()


def test_unlink_leaves_a_recreated_segment_alone(name):
    old = SharedMemorySegment.create(name, 10)
    os.unlink(shm_path(name))
    new = SharedMemorySegment.create(name, 20)
    old.unlink()  # the name now belongs to another segment
    assert os.path.exists(shm_path(name))
    old.close()
    new.close()
    new.unlink()
    assert not os.path.exists(shm_path(name))


@pytest.mark.py38
@pytest.mark.skipif(not os.path.exists(VENV38), reason="no .venv38")
def test_python38_process_opening_a_segment_does_not_unlink_it_at_exit(name):
    """multiprocessing.shared_memory on 3.8 would unlink a segment it merely opened; ours must not."""
    seg = SharedMemorySegment.create(name, 16)
    code = "from edge_runtime.shm import SharedMemorySegment as S; s = S.open(%r); s.write(0, b'hi'); s.close()" % name
    subprocess.run([VENV38, "-c", code], check=True, cwd=ROOT)
    assert os.path.exists(shm_path(name))
    assert seg.read(0, 2) == b"hi"
    seg.close()
    seg.unlink()


def test_caller_segment_reads_a_copy_and_writes_with_the_callers_rights(name):
    from edge_runtime.agent.segments import Caller, CallerSegment
    from edge_runtime.errors import PermissionDenied

    seg = SharedMemorySegment.create(name, 64)
    os.chmod(shm_path(name), 0o640)
    seg.write(0, bytes(range(64)))
    owner = Caller(pid=1, uid=os.getuid(), gid=os.getgid())
    with CallerSegment(name, owner, write=True) as caller_seg:
        copy = caller_seg.read(8, 8)
        caller_seg.write(0, np.full(4, 9, np.uint8))
        seg.write(8, b"\xff" * 8)
        assert copy.tolist() == list(range(8, 16)), "the read is a private copy"
        with pytest.raises(InvalidArgument, match="beyond"):
            caller_seg.read(60, 8)
    assert seg.read(0, 4) == b"\x09" * 4
    st = os.stat(shm_path(name))
    stranger = Caller(pid=1, uid=12345, gid=12345)
    member = Caller(pid=1, uid=12345, gid=54321, groups=frozenset({st.st_gid}))
    assert not stranger.may(st, write=False) and member.may(st, write=False) and not member.may(st, write=True)
    if os.getuid() == 0:
        with pytest.raises(PermissionDenied, match="uid 12345 may not read"):
            CallerSegment(name, stranger)
    with pytest.raises(PermissionDenied, match="only on the agent's Unix socket"):
        CallerSegment(name, None)
    seg.close()
    seg.unlink()
