"""staged_folder: outputs appear whole or not at all, and dead writers' staging folders are cleaned up."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time

import pytest

from edge_runtime.errors import AlreadyExists, InvalidArgument
from edge_runtime.staging import remove_abandoned, staged_folder


def hidden(parent) -> list:
    return sorted(n for n in os.listdir(str(parent)) if n.startswith("."))


def test_success_renames_the_staging_folder_into_place(tmp_path):
    out = tmp_path / "pkg"
    with staged_folder(str(out)) as staging:
        assert os.path.basename(staging).startswith(".pkg.tmp-%d-" % os.getpid())
        (tmp_path / staging / "model.onnx").write_bytes(b"x")
        assert not out.exists()
    assert (out / "model.onnx").read_bytes() == b"x"
    assert stat.S_IMODE(out.stat().st_mode) == 0o755  # readable by the agent's own user
    assert hidden(tmp_path) == []


def test_an_exception_leaves_nothing(tmp_path):
    out = tmp_path / "pkg"
    with pytest.raises(RuntimeError, match="boom"), staged_folder(str(out)) as staging:
        open(os.path.join(staging, "half"), "w").close()
        raise RuntimeError("boom")
    assert os.listdir(str(tmp_path)) == []


def test_an_empty_existing_folder_is_taken(tmp_path):
    out = tmp_path / "pkg"
    out.mkdir()
    with staged_folder(str(out)) as staging:
        open(os.path.join(staging, "a"), "w").close()
    assert os.listdir(str(out)) == ["a"]


def test_a_non_empty_output_is_refused_before_any_work(tmp_path):
    out = tmp_path / "pkg"
    out.mkdir()
    (out / "keep").write_text("mine")
    with pytest.raises(InvalidArgument, match="not empty"), staged_folder(str(out)):
        pytest.fail("the body must not run")
    taken = staged_folder(str(out), refuse=lambda p: AlreadyExists("%s is taken; --force" % p))
    with pytest.raises(AlreadyExists, match="--force"), taken:
        pytest.fail("the body must not run")
    assert (out / "keep").read_text() == "mine"
    assert hidden(tmp_path) == []


def test_a_file_in_the_way_is_refused_even_with_replace(tmp_path):
    out = tmp_path / "pkg"
    out.write_text("a file")
    for replace in (False, True):
        with pytest.raises(InvalidArgument, match="not a folder"), staged_folder(str(out), replace=replace):
            pass
    assert out.read_text() == "a file"


def test_output_written_meanwhile_is_not_overwritten(tmp_path):
    out = tmp_path / "pkg"
    with pytest.raises(InvalidArgument, match="not empty"), staged_folder(str(out)) as staging:
        open(os.path.join(staging, "new"), "w").close()
        out.mkdir()
        (out / "theirs").write_text("t")
    assert os.listdir(str(out)) == ["theirs"]
    assert hidden(tmp_path) == []


@pytest.fixture
def old_output(tmp_path):
    """An existing output folder holding one file, `old-only`."""
    out = tmp_path / "pkg"
    out.mkdir()
    (out / "old-only").write_text("old")
    return out


def test_replace_swaps_the_whole_folder(tmp_path, old_output):
    out = old_output
    with staged_folder(str(out), replace=True) as staging:
        open(os.path.join(staging, "new"), "w").close()
        assert (out / "old-only").exists()  # the old output stays readable until the swap
    assert os.listdir(str(out)) == ["new"]
    assert hidden(tmp_path) == []


def test_a_failed_replace_keeps_the_old_output(tmp_path, old_output):
    out = old_output
    with pytest.raises(ValueError), staged_folder(str(out), replace=True):
        raise ValueError("compile failed")
    assert os.listdir(str(out)) == ["old-only"]
    assert hidden(tmp_path) == []


def age(path, seconds=3600):
    old = time.time() - seconds
    os.utime(str(path), (old, old))


def test_staging_left_by_a_dead_writer_is_removed_and_a_live_ones_kept(tmp_path):
    """A live writer is one holding the folder's flock, here in another process, as a second job would."""
    out = tmp_path / "pkg"
    dead = tmp_path / ".pkg.tmp-4242-abc123"
    live = tmp_path / ".pkg.tmp-4242-def456"
    young = tmp_path / ".pkg.tmp-4242-ghi789"  # unlocked but just made: its writer may not hold the lock yet
    other = tmp_path / ".other.tmp-4242-abc123"
    crash_copy = tmp_path / ".pkg.tmp-4242-abc123.old"  # the only copy after a crash mid-swap
    for folder in (dead, live, young, other, crash_copy):
        folder.mkdir()
        (folder / "f").write_text("x")
    for folder in (dead, live, other, crash_copy):
        age(folder)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, os, sys, time\n"
         "fd = os.open(sys.argv[1], os.O_RDONLY); fcntl.flock(fd, fcntl.LOCK_EX)\n"
         "print('locked', flush=True); time.sleep(60)", str(live)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with staged_folder(str(out)):
            pass
        assert not dead.exists()
        assert live.exists() and young.exists() and other.exists() and crash_copy.exists()
    finally:
        holder.kill()
        holder.wait()
    assert remove_abandoned(str(out)) == 1  # the live writer is gone now
    assert not live.exists()


def test_a_writers_own_staging_folder_is_locked_while_it_works(tmp_path):
    out = tmp_path / "pkg"
    with staged_folder(str(out)) as staging:
        age(staging)
        assert remove_abandoned(str(out), min_age_s=0) == 0
        assert os.path.isdir(staging)


def test_a_symbolic_link_as_output_is_refused_before_any_work(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "pkg"
    link.symlink_to(real)
    for replace in (False, True):
        with pytest.raises(InvalidArgument, match="symbolic link"), staged_folder(str(link), replace=replace):
            pytest.fail("the body must not run")
    assert link.is_symlink() and os.listdir(str(real)) == []
    assert hidden(tmp_path) == []


def test_a_failed_swap_puts_the_old_output_back(tmp_path, old_output, monkeypatch):
    import edge_runtime.staging as staging_module

    out = old_output

    def failing_rename(src, dst):
        raise OSError("disk went away")

    monkeypatch.setattr(staging_module.os, "rename", failing_rename)
    with pytest.raises(OSError, match="disk went away"), staged_folder(str(out), replace=True) as staging:
        open(os.path.join(staging, "new"), "w").close()
    monkeypatch.undo()
    assert os.listdir(str(out)) == ["old-only"]
    assert hidden(tmp_path) == []
