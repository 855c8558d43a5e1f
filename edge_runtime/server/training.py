"""The server's one seam to training: `TrainingJob` in, a model package folder out.

CreateModel prepares the job (manifests with absolute references, train and test already split) and
calls the configured trainer on a background thread. The default trainer is the `edge-runtime train`
library function; `TrainingConfig.trainer` may name another ("module:function"), which tests use
to stand in a tiny network where training time matters more than the model.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from typing import Any, Callable

from edge_runtime.errors import FailedPrecondition, InvalidArgument

DEFAULT_TRAINER = "edge_runtime.server.training:train_with_library"


@dataclass(frozen=True)
class TrainingJob:
    """Everything a trainer needs; it writes a model package into `package_dir` (which does not exist yet)."""

    project: str
    version: int
    task: str  # "classification" or "segmentation"
    train_manifest: str  # local JSON Lines file; references are absolute local paths (S3 objects staged)
    test_manifest: str | None  # None: a single-dataset project, the trainer splits it
    package_dir: str
    epochs: int | None = None
    image_size: int | None = None


Trainer = Callable[[TrainingJob], str]


def load_trainer(spec: str) -> Trainer:
    """`package.module:function` -> the function; a wrong name fails when the server starts."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise InvalidArgument("a trainer is named as 'module:function', got %r" % spec)
    module = importlib.import_module(module_name)
    trainer = getattr(module, attribute, None)
    if not callable(trainer):
        raise InvalidArgument("%s has no function %r" % (module_name, attribute))
    return trainer  # type: ignore[no-any-return]


def _library_train_function() -> Callable[..., Any]:
    try:
        module = importlib.import_module("edge_runtime.train")
    except ImportError as exc:
        raise FailedPrecondition("training is not available in this installation (%s); install "
                                 "edge-runtime[train]" % exc) from exc
    function = getattr(module, "train_model", None)
    if function is None:
        raise FailedPrecondition("edge_runtime.train has no train_model function; this server and the trainer "
                                 "come from different releases")
    return function  # type: ignore[no-any-return]


def train_with_library(job: TrainingJob) -> str:
    """Call `edge_runtime.train.train_model` with the arguments it accepts; returns the package folder."""
    function = _library_train_function()
    offered = {
        "manifest": job.train_manifest, "train_manifest": job.train_manifest,
        "test_manifest": job.test_manifest, "task": job.task, "output": job.package_dir,
        "output_dir": job.package_dir, "name": job.project, "version": job.version,
        "epochs": job.epochs, "image_size": job.image_size,
    }
    accepted = inspect.signature(function).parameters
    kwargs = {k: v for k, v in offered.items() if k in accepted and v is not None}
    result = function(**kwargs)
    return str(getattr(result, "package_dir", None) or getattr(result, "root", None) or job.package_dir)
