"""Training options, one frozen dataclass validated on creation (read from the CLI at the edge)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from edge_runtime.errors import InvalidArgument
from edge_runtime.modelpkg.manifest import TASKS
from edge_runtime.train.backbones import backbone_names
from edge_runtime.train.defaults import DEFAULT_TIME_BUDGET

_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9-_.]{0,127}$")  # a Greengrass component name later
DEFAULT_EPOCHS = {"classification": 6, "segmentation": 25}
DEFAULT_BATCH = {"classification": 64, "segmentation": 8}  # the decoder learns best from many small steps


@dataclass(frozen=True)
class TrainConfig:
    """What to train and how; `epochs=None` / `batch_size=None` pick the task's defaults."""

    task: str
    train_manifest: str
    output: str
    test_manifest: Optional[str] = None
    name: str = "model"
    image_size: Optional[int] = None  # None: chosen from the images' size and the time budget (defaults.py)
    epochs: Optional[int] = None
    seed: int = 0
    batch_size: Optional[int] = None
    backbone: str = "efficientnet-lite0"
    backbone_weights: Optional[str] = None
    test_fraction: float = 0.2  # single manifest: Lookout-style train/test split
    val_fraction: float = 0.2  # part of the training images held out to calibrate the threshold
    threads: int = 2
    views: int = 4  # cached augmented views of each training image (flips / rotations)
    mirror_tta: Optional[bool] = None  # classification: score = mean over the image and its mirror; None: on
    # when it scores at least as well on the validation images
    time_budget: float = DEFAULT_TIME_BUDGET  # seconds: what the default input size is chosen to fit
    one_class_signal: Optional[bool] = None  # classification: blend in the one-class score (None: when
    # validation says it helps)
    normal_only: bool = False  # a one-class model on the normal images even when anomalies are labelled
    quiet: bool = False

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise InvalidArgument("--task must be one of %s, got %r" % (", ".join(TASKS), self.task))
        if self.image_size is not None and not 32 <= self.image_size <= 1024:
            raise InvalidArgument("--image-size must be within 32..1024 pixels, got %d" % self.image_size)
        if self.epochs is not None and not 1 <= self.epochs <= 1000:
            raise InvalidArgument("--epochs must be within 1..1000, got %d" % self.epochs)
        if self.batch_size is not None and not 2 <= self.batch_size <= 1024:
            raise InvalidArgument("--batch-size must be within 2..1024, got %d" % self.batch_size)
        if self.backbone not in backbone_names():
            raise InvalidArgument("--backbone must be one of %s, got %r"
                                  % (", ".join(backbone_names()), self.backbone))
        for label, value in (("test fraction", self.test_fraction), ("validation fraction", self.val_fraction)):
            if not 0.05 <= value <= 0.5:
                raise InvalidArgument("%s must be within 0.05..0.5, got %r" % (label, value))
        if not _NAME.match(self.name):
            raise InvalidArgument("--name must match [a-zA-Z0-9][a-zA-Z0-9-_.]{0,127}, got %r" % self.name)
        if not 1 <= self.views <= 8:
            raise InvalidArgument("views must be within 1..8, got %d" % self.views)
        if self.mirror_tta and self.task != "classification":
            raise InvalidArgument("--tta is for classification models only")
        if not 30 <= self.time_budget <= 24 * 3600:
            raise InvalidArgument("--time-budget must be within 30..86400 seconds, got %r" % self.time_budget)
        if self.threads < 1:
            raise InvalidArgument("threads must be >= 1, got %d" % self.threads)

    @property
    def effective_epochs(self) -> int:
        return self.epochs if self.epochs is not None else DEFAULT_EPOCHS[self.task]

    @property
    def effective_batch_size(self) -> int:
        return self.batch_size if self.batch_size is not None else DEFAULT_BATCH[self.task]
