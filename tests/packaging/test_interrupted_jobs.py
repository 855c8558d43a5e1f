"""Issue 13 item 3: `package start` killed with SIGKILL mid-upload (a real process, a real multipart
upload to moto_server); the next command FAILs the job with its reason, aborts the upload, removes the
staging folder, and the same component name and version can be packaged again."""

from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from edge_runtime.cli.main import main
from edge_runtime.packaging.jobs import PackagingJobStore
from edge_runtime.packaging.reclaim import staging_prefix
from edge_runtime.packaging.statedb import StateDatabase

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# The child runs the real job code; only the compiler is a seam (it adds 48 MB of random bytes, so the
# artifact goes multipart at the 5 MiB threshold and the upload lasts long enough to be killed in).
CHILD = r"""
import os, shutil, sys
sys.path.insert(0, sys.argv[1])
from edge_runtime.packaging.destinations import S3Settings
from edge_runtime.packaging.jobs import PackagingJobStore
from edge_runtime.packaging.model_job import JobServices, start_job
from edge_runtime.compiler.targets import target_from_text
from edge_runtime.packaging.request import OutputLocation, PackagingRequest
from edge_runtime.packaging.statedb import StateDatabase

def big_compile(model_dir, target, out, say):
    shutil.copytree(model_dir, out)
    with open(os.path.join(out, "padding.bin"), "wb") as fh:
        fh.write(os.urandom(48 << 20))
    return out

settings = S3Settings(endpoint_url=sys.argv[2], region_name="us-east-1", multipart_threshold=5 << 20,
                      multipart_chunksize=5 << 20, max_concurrency=1)
request = PackagingRequest(model_dir=sys.argv[3], component_name="line3-model",
                           output=OutputLocation.parse("s3://%s/components" % sys.argv[4]),
                           target=target_from_text(None, "Os=LINUX,Arch=X86_64", None))
start_job(request, JobServices(store=PackagingJobStore(StateDatabase(sys.argv[5])), s3=settings,
                               compile=big_compile))
"""


def _uploads(s3, bucket):
    return s3.list_multipart_uploads(Bucket=bucket, Prefix="components/").get("Uploads", [])


@pytest.mark.slow
def test_a_killed_package_start_is_reclaimed_by_the_next_command(tmp_path, tiny_model, s3_bucket, moto_endpoint,
                                                                 monkeypatch, capsys):
    s3, bucket = s3_bucket
    db = str(tmp_path / "home" / "state.db")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    child = subprocess.Popen([sys.executable, "-c", CHILD, ROOT, moto_endpoint, tiny_model, bucket, db], cwd=ROOT)
    try:
        end = time.monotonic() + 120
        while not _uploads(s3, bucket):
            assert child.poll() is None, "the job ended before its upload could be interrupted"
            assert time.monotonic() < end, "no multipart upload started"
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
    store = PackagingJobStore(StateDatabase(db))
    (job,) = store.unfinished()
    assert job.status == "RUNNING"
    staged = glob.glob(os.path.join(tempfile.gettempdir(), staging_prefix(store, job.id) + "*"))
    assert staged, "the killed job left no staging folder to find"
    assert _uploads(s3, bucket), "the multipart upload is open"

    assert main(["package", "list", "--state-db", db]) == 0  # the next command, any command
    listed = json.loads(capsys.readouterr().out)
    failed = store.get(job.job_name, job.project_name)
    assert failed.status == "FAILED" and failed.status_message.startswith("interrupted: the process running"), \
        failed.status_message
    assert "1 multipart upload(s) aborted" in failed.status_message and "1 staging folder(s) removed" in \
        failed.status_message
    assert [j["Status"] for j in listed["ModelPackagingJobs"]] == ["FAILED"]
    assert _uploads(s3, bucket) == [] and not any(os.path.exists(f) for f in staged)

    # the same component name and version is free again, and the next real job succeeds
    code = main(["package", "start", "--model", tiny_model, "--component-name", "line3-model",
                 "--target-platform", "Os=LINUX,Arch=X86_64", "--s3-output", "s3://%s/components" % bucket,
                 "--state-db", db])
    assert code == 0, capsys.readouterr().err
    assert [j.status for j in store.list()[0]] == ["FAILED", "SUCCEEDED"]
