"""Write a folder all or nothing: build it in a hidden folder beside the target, then rename it into place.

Training (model packages), the synthetic dataset writer and the compiler all use `staged_folder`, so a
failed or interrupted job never leaves a half-written output. The staging folder's name carries the
writer's PID (`.<name>.tmp-<pid>-<random>`); a later run for the same output removes staging folders
whose writer is gone (killed with SIGKILL, or the machine lost power), and leaves live ones alone.
Python 3.8 compatible: the compiler runs on the device.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from typing import Callable, Iterator, Optional

from edge_runtime.errors import EdgeRuntimeError, InvalidArgument

FOLDER_MODE = 0o755  # mkdtemp makes 0700; outputs are read by other users (the agent's service account)


def _not_free(path: str) -> EdgeRuntimeError:
    return InvalidArgument("output folder %s exists and is not empty; choose a new folder" % path)


def check_free(output: str, refuse: Callable[[str], EdgeRuntimeError] = _not_free) -> None:
    """`output` must be absent or an empty folder."""
    if os.path.isdir(output):
        if os.listdir(output):
            raise refuse(output)
    elif os.path.lexists(output):
        raise InvalidArgument("output %s exists and is not a folder" % output)


def _prefix(output: str) -> str:
    return ".%s.tmp-" % os.path.basename(output)


def remove_abandoned(output: str) -> int:
    """Remove staging folders for `output` left by writers that no longer run; returns how many."""
    parent = os.path.dirname(output)
    # not `<staging>.old`: after a crash between the two renames of a replace, that is the only copy
    pattern = re.compile(re.escape(_prefix(output)) + r"(\d+)-[A-Za-z0-9_]+$")
    removed = 0
    try:
        names = os.listdir(parent)
    except OSError:
        return 0
    for name in names:
        match = pattern.match(name)
        if match and not _alive(int(match.group(1))):
            shutil.rmtree(os.path.join(parent, name), ignore_errors=True)
            removed += 1
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
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
    if not replace:
        check_free(output, refuse)
    elif os.path.lexists(output) and not os.path.isdir(output):
        raise InvalidArgument("output %s exists and is not a folder" % output)
    parent = os.path.dirname(output)
    os.makedirs(parent, exist_ok=True)
    remove_abandoned(output)
    staging = tempfile.mkdtemp(prefix="%s%d-" % (_prefix(output), os.getpid()), dir=parent)
    try:
        os.chmod(staging, FOLDER_MODE)
        yield staging
        _publish(staging, output, replace, refuse)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _publish(staging: str, output: str, replace: bool, refuse: Callable[[str], EdgeRuntimeError]) -> None:
    old: Optional[str] = None
    if replace and os.path.isdir(output) and os.listdir(output):
        old = staging + ".old"
        os.replace(output, old)
    else:
        check_free(output, refuse)  # nobody wrote there meanwhile
        if os.path.isdir(output):
            os.rmdir(output)
    os.rename(staging, output)
    if old:
        shutil.rmtree(old, ignore_errors=True)
