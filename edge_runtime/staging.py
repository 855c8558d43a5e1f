"""Write a folder all or nothing: build it in a hidden folder beside the target, then rename it into place.

Training (model packages), the synthetic dataset writer and the compiler all use `staged_folder`, so a
failed or interrupted job never leaves a half-written output. The writer holds an exclusive flock on
its staging folder (`.<name>.tmp-<pid>-<random>`; the PID is for people reading `ls`) while it works;
a later run for the same output removes staging folders whose lock it can take, i.e. whose writer is
gone (killed with SIGKILL, out of memory, power lost), and leaves live ones alone, whatever PID
namespace or container the writer ran in. Python 3.8 compatible: the compiler runs on the device.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import shutil
import tempfile
import time
from contextlib import contextmanager
from typing import Callable, Iterator, Optional

from edge_runtime.errors import EdgeRuntimeError, InvalidArgument, ResourceExhausted

FOLDER_MODE = 0o755  # mkdtemp makes 0700; outputs are read by other users (the agent's service account)
ABANDONED_AFTER_S = 30.0  # younger staging folders are left alone (their writer may not hold its lock yet)
FULL_BELOW_BYTES = 1 << 20  # a write failing with less free than this is reported as a full disk


def _not_free(path: str) -> EdgeRuntimeError:
    return InvalidArgument("output folder %s exists and is not empty; choose a new folder" % path)


def check_free(output: str, refuse: Callable[[str], EdgeRuntimeError] = _not_free) -> None:
    """`output` must be absent or an empty folder."""
    _check_kind(output)
    if os.path.isdir(output) and os.listdir(output):
        raise refuse(output)


def _check_kind(output: str) -> None:
    if os.path.islink(output):
        raise InvalidArgument("output %s is a symbolic link; give the folder itself (%s)"
                              % (output, os.path.realpath(output)))
    if os.path.lexists(output) and not os.path.isdir(output):
        raise InvalidArgument("output %s exists and is not a folder" % output)


def _prefix(output: str) -> str:
    return ".%s.tmp-" % os.path.basename(output)


def remove_abandoned(output: str, min_age_s: float = ABANDONED_AFTER_S) -> int:
    """Remove staging folders for `output` whose writer is gone (nobody holds their lock); returns how many."""
    parent = os.path.dirname(output)
    # not `<staging>.old`: after a crash between the two renames of a replace, that is the only copy
    pattern = re.compile(re.escape(_prefix(output)) + r"\d+-[A-Za-z0-9_]+$")
    removed = 0
    try:
        names = os.listdir(parent)
    except OSError:
        return 0
    for name in names:
        path = os.path.join(parent, name)
        if pattern.match(name) and not os.path.islink(path) and _abandoned(path, min_age_s):
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    return removed


def _abandoned(path: str, min_age_s: float) -> bool:
    try:
        if time.time() - os.stat(path).st_mtime < min_age_s:
            return False
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # held: its writer is alive
        return False
    finally:
        os.close(fd)  # also drops the lock we may have taken
    return True


@contextmanager
def staged_folder(
    output: str,
    replace: bool = False,
    refuse: Callable[[str], EdgeRuntimeError] = _not_free,
) -> Iterator[str]:
    """Yield an empty staging folder; on normal exit it becomes `output`, on any exception it disappears.

    Without `replace`, `output` must be absent or empty (else `refuse(output)` is raised, before any
    work and again at the end in case something was written there meanwhile). With `replace`, an
    existing `output` is swapped out by rename and then removed, so readers see the old folder or the
    new one, never a mix.
    """
    output = os.path.abspath(output)
    if replace:
        _check_kind(output)
    else:
        check_free(output, refuse)
    parent = os.path.dirname(output)
    os.makedirs(parent, exist_ok=True)
    remove_abandoned(output)
    staging = tempfile.mkdtemp(prefix="%s%d-" % (_prefix(output), os.getpid()), dir=parent)
    lock = os.open(staging, os.O_RDONLY)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # "a writer is alive" for remove_abandoned
        os.chmod(staging, FOLDER_MODE)
        yield staging
        _publish(staging, output, replace, refuse)
    except BaseException as exc:
        full = disk_full(staging, exc)  # measured before the staging folder frees its space
        shutil.rmtree(staging, ignore_errors=True)
        if full is not None:
            raise full from exc
        raise
    finally:
        os.close(lock)


def disk_full(folder: str, exc: BaseException) -> Optional[ResourceExhausted]:
    """'no space left on device' when `exc` is ENOSPC/EDQUOT, or any failure while the file system of
    `folder` is (nearly) full: libraries such as ONNX Runtime report a full disk in their own words
    (INVALID_PROTOBUF: Protobuf serialization failed)."""
    if not isinstance(exc, Exception):
        return None
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return None
    no_space = isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)
    if not no_space and free >= FULL_BELOW_BYTES:
        return None
    return ResourceExhausted("no space left on device: writing %s failed with %d bytes free there (%s: %s)"
                             % (os.path.dirname(folder), free, type(exc).__name__, str(exc)[:200]))


def _publish(staging: str, output: str, replace: bool, refuse: Callable[[str], EdgeRuntimeError]) -> None:
    old: Optional[str] = None
    _check_kind(output)  # nobody put a file or a link there meanwhile
    if replace and os.path.isdir(output) and os.listdir(output):
        old = staging + ".old"
        os.replace(output, old)
    else:
        check_free(output, refuse)  # nobody wrote there meanwhile
        if os.path.isdir(output):
            os.rmdir(output)
    try:
        os.rename(staging, output)
    except BaseException:
        if old:  # put the old output back rather than leave none
            os.replace(old, output)
        raise
    if old:
        shutil.rmtree(old, ignore_errors=True)
