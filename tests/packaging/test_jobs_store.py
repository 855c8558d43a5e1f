"""The SQLite job store: statuses, uniqueness rules, client tokens, pagination, a shared file."""

from __future__ import annotations

import threading

import pytest

from edge_runtime.errors import AlreadyExists, InvalidArgument, NotFound
from edge_runtime.packaging.jobs import CLIENT_TOKEN_TTL_S, NewJob, PackagingJobStore
from edge_runtime.packaging.statedb import StateDatabase, default_state_path


def new_job(name: str = "job-1", version: str = "1.0.0", token=None, fingerprint: str = "f1",
            project: str = "tiny") -> NewJob:
    return NewJob(project_name=project, model_version="1", job_name=name, component_name="acme.Model",
                  component_version=version, configuration={"ComponentName": "acme.Model"},
                  request_fingerprint=fingerprint, client_token=token)


def test_lifecycle_and_lookout_shapes(store):
    job, created = store.create(new_job())
    assert created and job.status == "CREATED"
    store.update(job.id, "RUNNING", "compiling")
    arn = "arn:aws:greengrass:x:1:components:a:versions:1"
    done = store.update(job.id, "SUCCEEDED", "published", component_arn=arn, recipe_uri="s3://b/recipes/a.json")
    described = store.get("job-1").description_dict()
    assert described["Status"] == "SUCCEEDED" and described["StatusMessage"] == "published"
    details = described["ModelPackagingOutputDetails"]["Greengrass"]
    assert details == {"ComponentName": "acme.Model", "ComponentVersion": "1.0.0",
                       "ComponentVersionArn": done.component_arn, "RecipeUri": "s3://b/recipes/a.json"}
    assert described["CreationTimestamp"] <= described["LastUpdatedTimestamp"]
    with pytest.raises(InvalidArgument, match="status must be one of"):
        store.update(job.id, "DONE")
    with pytest.raises(NotFound, match="no packaging job named 'nope'"):
        store.get("nope")


def test_job_names_and_live_component_versions_are_unique(store):
    job, _ = store.create(new_job())
    with pytest.raises(AlreadyExists, match="job named 'job-1' exists already"):
        store.create(new_job(version="2.0.0"))
    with pytest.raises(AlreadyExists, match="acme.Model version 1.0.0 exists already"):
        store.create(new_job(name="job-2"))
    store.update(job.id, "FAILED", "boom")  # a failed job published nothing: its version is free again
    retry, created = store.create(new_job(name="job-2"))
    assert created and retry.component_version == "1.0.0"


def test_client_token_replays_same_request_and_refuses_another(store):
    first, created = store.create(new_job(token="tok-1"))
    again, created_again = store.create(new_job(name="job-x", token="tok-1"))
    assert created and not created_again and again.id == first.id
    with pytest.raises(AlreadyExists, match="ClientToken 'tok-1' was used for job 'job-1' with a different request"):
        store.create(new_job(name="job-y", token="tok-1", fingerprint="other"))
    # after 8 hours the token is forgotten, as Lookout's was
    store.update(first.id, "FAILED", "x")
    later, created_later = store.create(new_job(name="job-z", token="tok-1", fingerprint="other"),
                                        now=first.created_at + CLIENT_TOKEN_TTL_S + 1)
    assert created_later and later.job_name == "job-z"


def test_list_is_paginated_with_opaque_tokens(store):
    for i in range(5):
        store.create(new_job(name="job-%d" % i, version="%d.0.0" % i, project="p" if i % 2 else "q"))
    page, token = store.list(max_results=2)
    assert [j.job_name for j in page] == ["job-0", "job-1"] and token
    page2, token2 = store.list(max_results=2, next_token=token)
    page3, token3 = store.list(max_results=2, next_token=token2)
    assert [j.job_name for j in page2 + page3] == ["job-2", "job-3", "job-4"] and token3 is None
    assert [j.job_name for j in store.list(project_name="p")[0]] == ["job-1", "job-3"]
    with pytest.raises(InvalidArgument, match="MaxResults must be 1-100"):
        store.list(max_results=0)
    with pytest.raises(InvalidArgument, match="NextToken"):
        store.list(next_token="!!not-ours")


def test_one_file_many_subsystems_and_threads(tmp_path):
    """Another subsystem (the API server) adds its tables to the same file; writers in threads serialize."""
    db = StateDatabase(str(tmp_path / "state.db"))
    store = PackagingJobStore(db)
    db.ensure_schema("server", 1, ["CREATE TABLE lv_projects (name TEXT PRIMARY KEY)"])
    with db.transaction() as conn:
        conn.execute("INSERT INTO lv_projects VALUES ('tiny')")
    errors = []

    def worker(i: int) -> None:
        try:
            PackagingJobStore(StateDatabase(db.path)).create(new_job(name="t-%d" % i, version="%d.0.0" % i))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(store.list()[0]) == 8
    with pytest.raises(InvalidArgument, match="newer than this release"):
        db.ensure_schema("server", 0, [])


def test_default_path_follows_edge_runtime_home(monkeypatch, tmp_path):
    monkeypatch.setenv("EDGE_RUNTIME_HOME", str(tmp_path / "home"))
    assert default_state_path() == str(tmp_path / "home" / "state.db")
    monkeypatch.delenv("EDGE_RUNTIME_HOME")
    assert default_state_path().endswith("/.edge-runtime/state.db")
