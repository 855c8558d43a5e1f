"""Jobs whose process died (kill -9, a crash, a power cut): found on the next command and closed.

The process running a job holds an flock on `<state folder>/packaging-locks/<db tag>-<job id>.lock`
from the moment it starts until the job's final status is written, and stages its work in
`$TMPDIR/edge-package-<db tag>-<job id>-*`. Any later packaging command (start, list, describe, the
server at start-up) calls `reclaim_interrupted`: a job still CREATED (for over a minute) or RUNNING
whose lock nobody holds had its process die. With the lock taken, so its owner cannot be alive, the
job's leftovers are removed (open S3 multipart uploads under its component version aborted, objects
already written there deleted, a local output's version folder removed, the staging folder deleted),
then the job is FAILED with the reason, which frees its component name and version.
"""

from __future__ import annotations

import errno
import fcntl
import glob
import hashlib
import logging
import os
import shutil
import tempfile
import time
from typing import List, Optional

from edge_runtime.packaging.destinations import S3Settings
from edge_runtime.packaging.jobs import PackagingJob, PackagingJobStore

LOG = logging.getLogger(__name__)
CREATED_GRACE_S = 60.0  # a job is CREATED just before its runner takes the lock


def _tag(store: PackagingJobStore) -> str:
    return hashlib.sha256(store.db.path.encode("utf-8")).hexdigest()[:10]


def staging_prefix(store: PackagingJobStore, job_id: int) -> str:
    """mkdtemp prefix of a job's staging folder: findable from the job alone."""
    return "edge-package-%s-%d-" % (_tag(store), job_id)


class JobLock:
    """An exclusive flock naming one job; `acquire` returns None when another process holds it."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    @classmethod
    def acquire(cls, store: PackagingJobStore, job_id: int) -> Optional["JobLock"]:
        folder = os.path.join(os.path.dirname(store.db.path), "packaging-locks")
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, "%s-%d.lock" % (_tag(store), job_id))
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                return None
            raise
        return cls(fd)

    def release(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)  # the file stays: unlinking it would let two processes lock different files


def reclaim_interrupted(store: PackagingJobStore, s3: Optional[S3Settings] = None) -> List[str]:
    """FAIL every job whose process died, removing its leftovers; returns the reclaimed job names."""
    reclaimed = []
    for job in store.unfinished():
        if job.status == "CREATED" and time.time() - job.updated_at < CREATED_GRACE_S:
            continue
        lock = JobLock.acquire(store, job.id)
        if lock is None:
            continue  # its process is alive
        try:
            current = store.get(job.job_name, job.project_name)
            if current.status not in ("CREATED", "RUNNING"):
                continue
            notes = remove_leftovers(store, current, s3 or S3Settings())
            store.update(job.id, "FAILED", "interrupted: the process running this job ended before it finished "
                         "(killed or crashed); %s. Start the job again" % "; ".join(notes))
            reclaimed.append(job.job_name)
            LOG.warning("packaging job %s was interrupted; marked FAILED (%s)", job.job_name, "; ".join(notes))
        finally:
            lock.release()
    return reclaimed


def remove_leftovers(store: PackagingJobStore, job: PackagingJob, s3: S3Settings) -> List[str]:
    """Staging folders, then the partial output; each step reports what it did or what it could not."""
    notes = []
    staged = glob.glob(os.path.join(tempfile.gettempdir(), staging_prefix(store, job.id) + "*"))
    for folder in staged:
        shutil.rmtree(folder, ignore_errors=True)
    notes.append("%d staging folder(s) removed" % len(staged))
    location = job.configuration.get("S3OutputLocation")
    try:
        if location:
            notes.append(_clean_s3(location["Bucket"], location.get("Prefix", ""), job, s3))
        elif job.configuration.get("LocalOutputLocation"):
            notes.append(_clean_local(job.configuration["LocalOutputLocation"]["LocalPath"], job))
    except Exception as exc:  # noqa: BLE001 - the job must still end FAILED, naming what is left
        notes.append("its partial output could not be removed: %s" % exc)
    return notes


def _clean_s3(bucket: str, prefix: str, job: PackagingJob, settings: S3Settings) -> str:
    from edge_runtime.packaging.destinations import S3Destination

    destination = S3Destination(bucket, prefix, settings)
    aborted, deleted = destination.remove_version(job.component_name, job.component_version)
    return "%d multipart upload(s) aborted and %d object(s) deleted under %s" % (
        aborted, deleted, destination.describe())


def _clean_local(root: str, job: PackagingJob) -> str:
    from edge_runtime.packaging.destinations import LocalDestination

    removed = LocalDestination(root).remove_version(job.component_name, job.component_version)
    return "%d partial output path(s) removed under %s" % (removed, root)
