"""The server's one seam to training: `TrainingJob` in, a model package folder out.

CreateModel prepares the job (manifests with absolute references, train and test already split) and
calls the configured trainer on a background thread. The default trainer is the `edge-runtime train`
library function; `TrainingConfig.trainer` may name another ("module:function"), which tests use
to stand in a tiny network where training time matters more than the model.
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass
from typing import Callable, Optional

from edge_runtime.errors import FailedPrecondition, InvalidArgument
from edge_runtime.progress import ProgressSink, lines_to

DEFAULT_TRAINER = "edge_runtime.server.training:train_with_library"
SPLIT_SEED = 0  # a single dataset is split with this seed and fraction by the trainer and again by the server
TEST_FRACTION = 0.2


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
    progress: Optional[ProgressSink] = None  # the trainer's progress lines (the model's StatusMessage); see run_trainer


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


def train_with_library(job: TrainingJob) -> str:
    """`edge-runtime train` as a library call (edge_runtime.train, the `train` extra); returns the package."""
    try:
        from edge_runtime.train.config import TrainConfig
        from edge_runtime.train.pipeline import train_model
    except ImportError as exc:
        raise FailedPrecondition("training is not available in this installation (%s); install "
                                 "edge-runtime[train]" % exc) from exc
    config = TrainConfig(task=job.task, train_manifest=job.train_manifest, test_manifest=job.test_manifest,
                         output=job.package_dir, name=job.project[:128], epochs=job.epochs, seed=SPLIT_SEED,
                         test_fraction=TEST_FRACTION)
    if job.image_size is not None:
        config = dataclasses.replace(config, image_size=job.image_size)
    return train_model(config).package_dir


def run_trainer(trainer: Trainer, job: TrainingJob) -> str:
    """Call a trainer; progress it reports with edge_runtime.progress on this thread reaches `job.progress`."""
    if job.progress is None:
        return trainer(job)
    with lines_to(job.progress):
        return trainer(job)
