"""CreateModel's background work: TRAINING -> TRAINED (with evaluation outputs) or TRAINING_FAILED.

The dataset entries are snapshotted when CreateModel is called, so later dataset edits do not leak
into a running job; the images are staged as local files before training. A single-dataset project
goes to the trainer as one manifest (it checks the single-dataset limits and splits as Lookout did);
the server repeats that seeded split to know the test images it evaluates and lists in the
EvaluationManifest.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import time
from typing import Any

from edge_runtime.datasets.manifest import read_manifest as read_dataset
from edge_runtime.datasets.split import split_dataset
from edge_runtime.errors import EdgeRuntimeError
from edge_runtime.modelpkg.manifest import read_manifest, write_manifest
from edge_runtime.server import evaluation
from edge_runtime.server.context import ServerContext
from edge_runtime.server.operations.common import dumps
from edge_runtime.server.operations.entries import map_refs, refs_of
from edge_runtime.server.operations.entries import write_manifest as write_entries
from edge_runtime.server.training import SPLIT_SEED, TEST_FRACTION, TrainingJob, load_trainer, run_trainer
from edge_runtime.server.training_inputs import TrainingInputs

log = logging.getLogger(__name__)
MAX_MESSAGE = 2000


def model_dir(ctx: ServerContext, project: str, version: int) -> str:
    return os.path.join(ctx.config.storage.models_dir, project, str(version))


def package_dir(ctx: ServerContext, project: str, version: int) -> str:
    return os.path.join(model_dir(ctx, project, version), "package")


def output_key(prefix: str | None, name: str) -> str:
    if not prefix:
        return name
    return prefix + name if prefix.endswith("/") else prefix + "/" + name


def start_training(ctx: ServerContext, project: str, version: int, train: list[str], test: list[str]) -> None:
    """Write the snapshot (entry lines as stored), then train on a background thread (queued)."""
    work = os.path.join(model_dir(ctx, project, version), "work")
    shutil.rmtree(model_dir(ctx, project, version), ignore_errors=True)
    os.makedirs(work)
    for name, lines in (("train.jsonl", train), ("test.jsonl", test)):
        if lines:
            with open(os.path.join(work, name), "w", encoding="utf-8") as handle:
                handle.writelines(line + "\n" for line in lines)
    ctx.background.spawn("train-%s-%d" % (project, version), lambda: run_training(ctx, project, version),
                         training=True)


def _training_inputs(ctx: ServerContext, work: str) -> TrainingInputs:
    return TrainingInputs(ctx.objects, os.path.join(work, "objects"))


def _stage(ctx: ServerContext, work: str) -> None:
    """Snapshot lines -> manifests whose references are local files (S3 objects copied first)."""
    staging = _training_inputs(ctx, work)
    for name in ("train", "test"):
        source = os.path.join(work, name + ".jsonl")
        if os.path.isfile(source):
            with open(source, encoding="utf-8") as handle:
                lines = [line for line in handle.read().splitlines() if line.strip()]
            staging.prefetch(ref for line in lines for ref in refs_of(json.loads(line)))
            write_entries(os.path.join(work, name + ".manifest"), lines, staging.localize)


def _inputs(work: str) -> tuple[str, str | None, str]:
    """(train manifest, test manifest or None for a single-dataset project, task)."""
    train_path = os.path.join(work, "train.manifest")
    test_path = os.path.join(work, "test.manifest")
    return train_path, test_path if os.path.isfile(test_path) else None, read_dataset(train_path).task


def _test_set(work: str, test_path: str | None) -> tuple[str, int]:
    """The images the model was tested on and how many it trained on.

    A single dataset was split by the trainer as Lookout did (stratified, seeded); the same split is
    made here with the same fraction and seed, so the evaluation covers the same images.
    """
    train_path = os.path.join(work, "train.manifest")
    if test_path is not None:
        return test_path, len(_lines(train_path))
    train, test = split_dataset(read_dataset(train_path), test_fraction=TEST_FRACTION, seed=SPLIT_SEED)
    split_path = os.path.join(work, "test-split.manifest")
    with open(split_path, "w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(s.raw) + "\n" for s in test)
    return split_path, len(train)


def _set(ctx: ServerContext, project: str, version: int, status: str, message: str, **fields: Any) -> None:
    """Update the model if it is still TRAINING (a DeleteModel meanwhile wins)."""
    columns = ", ".join("%s = ?" % k for k in fields)
    sql = "UPDATE lv_models SET status = ?, status_message = ?%s WHERE project = ? AND version = ? AND " \
          "status = 'TRAINING'" % (", " + columns if columns else "")
    with ctx.store.transaction() as tx:
        tx.execute(sql, (status, message[:MAX_MESSAGE], *fields.values(), project, version))


def public_message(ctx: ServerContext, work: str, text: str) -> str:
    """A failure message without server paths: staged or stored object files become their s3:// names,
    anything else under the data folder becomes <data>/..."""
    objects_root = getattr(ctx.objects, "root", None)
    for folder in (os.path.join(work, "objects"), objects_root):
        if folder:
            text = text.replace(os.path.abspath(folder) + os.sep, "s3://")
    return text.replace(os.path.abspath(ctx.config.storage.data_dir), "<data>")


def run_training(ctx: ServerContext, project: str, version: int) -> None:
    folder = model_dir(ctx, project, version)
    try:
        _set(ctx, project, version, "TRAINING", "copying the dataset images for training")
        _stage(ctx, os.path.join(folder, "work"))
        _set(ctx, project, version, "TRAINING", "training the model")
        train_path, test_path, task = _inputs(os.path.join(folder, "work"))
        config = ctx.config.training
        job = TrainingJob(project=project, version=version, task=task, train_manifest=train_path,
                          test_manifest=test_path, package_dir=package_dir(ctx, project, version),
                          epochs=config.epochs, image_size=config.image_size,
                          progress=lambda line: _set(ctx, project, version, "TRAINING", "training: " + public_message(
                              ctx, os.path.join(folder, "work"), line)))
        package = run_trainer(load_trainer(config.trainer), job)
        _set(ctx, project, version, "TRAINING", "evaluating the model on the test images")
        _finish(ctx, project, version, package, test_path)
    except EdgeRuntimeError as exc:
        log.warning("training %s/%d failed: %s", project, version, exc)
        _set(ctx, project, version, "TRAINING_FAILED", public_message(ctx, os.path.join(folder, "work"), str(exc)))
    except Exception as exc:  # a bug or an unexpected library error: record it on the model
        log.exception("training %s/%d failed", project, version)
        _set(ctx, project, version, "TRAINING_FAILED", "internal error during training: %s: %s"
             % (type(exc).__name__, public_message(ctx, os.path.join(folder, "work"), str(exc))))


def _lines(path: str) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _finish(ctx: ServerContext, project: str, version: int, package: str, test_path: str | None) -> None:
    """Name the package after the Lookout model, evaluate it, publish the outputs, mark TRAINED."""
    target = package_dir(ctx, project, version)
    if os.path.abspath(package) != os.path.abspath(target):
        shutil.copytree(package, target)
    arn = ctx.arns.model(project, version)
    manifest = dataclasses.replace(read_manifest(target), name=project, version=version, model_arn=arn)
    write_manifest(target, manifest)
    work = os.path.join(model_dir(ctx, project, version), "work")
    test_path, train_count = _test_set(work, test_path)
    test_lines = _lines(test_path)
    labels = [s.label for s in read_dataset(test_path).samples]
    decisions = evaluation.predict_test_set(target, test_lines, labels)
    test_lines = [map_refs(line, _training_inputs(ctx, work).publish) for line in test_lines]
    finished = time.time()
    row = ctx.store.query_one("SELECT output_config FROM lv_models WHERE project = ? AND version = ?",
                              (project, version))
    location = json.loads(row["output_config"])["S3Location"] if row else {}
    bucket, prefix = location.get("Bucket", ""), location.get("Prefix")
    result_key = output_key(prefix, "EvaluationResult-%s-%d.json" % (project, version))
    manifest_key = output_key(prefix, "EvaluationManifest-%s-%d.json" % (project, version))
    ctx.objects.put(bucket, manifest_key, evaluation.evaluation_manifest(
        test_lines, decisions, arn, project, version, finished), "application/json")
    ctx.objects.put(bucket, result_key, evaluation.evaluation_result(
        manifest, decisions, arn, train_count, finished), "application/json")
    _set(ctx, project, version, "TRAINED", "Training completed successfully.",
         performance=dumps(evaluation.performance(manifest, decisions)),
         evaluation_manifest=dumps({"Bucket": bucket, "Key": manifest_key}),
         evaluation_result=dumps({"Bucket": bucket, "Key": result_key}), evaluation_end=finished,
         package_dir=target)
