"""Defaults that fit the data: the input size from the dataset's image size and a time budget.

A user who runs `edge-runtime train` without flags should get the best model this machine can train
in minutes. The input size is the largest that (a) does not enlarge the images beyond MAX_UPSCALE
(enlarging adds no detail, only cost) and (b) fits the time budget by a simple cost model: the frozen
backbone's pass over every cached view grows with the pixel count, measured once on this project's
reference machine (2 CPU cores). Test-time augmentation (the image and its mirror image) is decided
after training on the validation images: it is kept when it scores at least as well as the plain image
(`prefer_tta`), because it doubles the inference cost on the device.

Explicit options always win; the training summary records what was chosen and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

SIZES = (128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448, 480, 512)
MIN_AUTO_SIZE = 128
MAX_UPSCALE = 1.0  # never enlarge the source images for the network
FALLBACK_SIZE = 224  # when the image size is unknown
DEFAULT_TIME_BUDGET = 600.0  # seconds for the whole run on the default thread count
# Seconds per image-view through EfficientNet-Lite0 at 224x224 on 2 threads of the reference machine,
# for features, head training and evaluation together (ELPV at 300 px: about 0.05 s per view).
SECONDS_PER_VIEW_224 = 0.028
FIXED_SECONDS = 30.0  # loading, export, ONNX checks, evaluation set-up
TTA_MARGIN = 0.0  # validation ROC AUC gain needed to keep mirror TTA (ties keep it: steadier scores)


@dataclass(frozen=True)
class Choice:
    """What the trainer chose for the options the user left open, and why (for the training summary)."""

    image_size: int
    reasons: Tuple[str, ...]

    def summary(self) -> Dict[str, Any]:
        return {"image_size": self.image_size, "reasons": list(self.reasons)}


def estimated_seconds(size: int, view_images: int, threads: int = 2) -> float:
    """Cost model: FIXED_SECONDS plus SECONDS_PER_VIEW_224 per image-view scaled by pixels and threads."""
    return FIXED_SECONDS + view_images * SECONDS_PER_VIEW_224 * (size / 224.0) ** 2 * (2.0 / max(1, threads))


def view_images(train_images: int, test_images: int, views: int, task: str) -> int:
    """Image-views the backbone runs over: training views, validation and test (twice: mirror TTA)."""
    per_epoch = 1.0 if task == "classification" else 3.0  # the decoder trains longer on bigger maps
    return int(train_images * views * per_epoch + 2 * test_images)


def choose_image_size(source: Tuple[int, int], train_images: int, test_images: int, views: int, task: str,
                      budget: float = DEFAULT_TIME_BUDGET, threads: int = 2) -> Choice:
    """The largest of SIZES and the source's longer side (x MAX_UPSCALE), not above the latter, that fits
    `budget`."""
    width, height = source
    longest = max(width, height)
    work = view_images(train_images, test_images, views, task)
    if not longest:
        return Choice(FALLBACK_SIZE, ("image size unknown: %d px" % FALLBACK_SIZE,))
    cap = max(MIN_AUTO_SIZE, int(longest * MAX_UPSCALE))
    sizes = sorted(set(SIZES) | ({cap} if SIZES[0] <= cap <= SIZES[-1] else set()))  # the images' own size too
    fitting = [s for s in sizes if s <= cap and estimated_seconds(s, work, threads) <= budget]
    if not fitting:
        size = MIN_AUTO_SIZE
        return Choice(size, ("even %d px is estimated at %.0f s, over the %.0f s budget: %d px"
                             % (size, estimated_seconds(size, work, threads), budget, size),))
    size = fitting[-1]
    if size > longest:
        why = "the images are %dx%d: enlarged to %d px, the smallest input the backbone's coarse taps work at" % (
            width, height, size)
    elif size == max(s for s in sizes if s <= cap):
        why = "the images are %dx%d: %d px keeps their detail (estimated %.0f s of %.0f s budget)" % (
            width, height, size, estimated_seconds(size, work, threads), budget)
    else:
        why = "%d px is the largest that fits the %.0f s budget for %d image-views (estimated %.0f s)" % (
            size, budget, work, estimated_seconds(size, work, threads))
    return Choice(size, (why,))


def prefer_tta(plain_auc: float, tta_auc: float, margin: float = TTA_MARGIN) -> Tuple[bool, str]:
    """Keep mirror TTA when the validation ROC AUC with it is at least the plain one's (+ margin)."""
    keep = tta_auc + 1e-12 >= plain_auc + margin
    return keep, "mirror TTA %s: validation ROC AUC %.4f with, %.4f without" % (
        "on" if keep else "off", tta_auc, plain_auc)


def resolve_size(explicit: Optional[int], choice: Choice) -> int:
    return explicit if explicit is not None else choice.image_size
