"""Lookout's dataset limits, checked before any training starts, all problems reported at once.

Images are checked from their headers only (a few KB each: format, width, height) plus their file size;
segmentation masks are decoded, because an empty class or a mask of the wrong size can only be seen in
the pixels. Where the spec is silent (minimum normal images in a separate training set, anomalous
images in a single dataset) the constants below are this project's choice and say so.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from edge_runtime.datasets.images import check_complete, file_size, load_mask, mask_to_labels, read_bytes, read_tail
from edge_runtime.datasets.types import Dataset, MaskClass, Sample
from edge_runtime.errors import DatasetError
from edge_runtime.image_header import parse_header
from edge_runtime.image_limits import MAX_IMAGE_BYTES, MAX_SIDE, MIN_SIDE

# "evaluate": looking at a trained model's results on any labelled set (one image of each label gives
# the metrics a meaning); Lookout's test minimum governs training a project, not looking at results.
MAX_IMAGES = {"train": 16000, "test": 4000, "single": 20000, "evaluate": 4000}
MIN_NORMAL = {"train": 10, "test": 10, "single": 20, "evaluate": 1}  # train: project choice (spec silent)
MIN_ANOMALOUS = {"train": 0, "test": 10, "single": 10, "evaluate": 1}  # single: so the split can test
MAX_CLASSES_PER_PROJECT = 100
MAX_CLASSES_PER_MASK = 20
MAX_REPORTED = 20
HEADER_BYTES = 64 * 1024
ROLES = ("train", "test", "single", "evaluate")


@dataclass(frozen=True)
class ImageHeader:
    format: str  # "png" | "jpeg" | "" (neither)
    width: int
    height: int
    nbytes: int
    complete: bool = True  # the end marker (PNG IEND, JPEG EOI) is there


@dataclass(frozen=True)
class LimitsReport:
    """What the check saw; `warnings` are worth showing but do not stop training."""

    role: str
    counts: Dict[str, int]
    sizes: Dict[Tuple[int, int], int]
    classes: Tuple[MaskClass, ...] = ()
    masks_per_class: Dict[str, int] = field(default_factory=dict)
    warnings: Tuple[str, ...] = ()


def read_header(ref: str, endpoint_url: Optional[str] = None) -> ImageHeader:
    """Format and size without decoding: reads 64 KB, or the whole file when a JPEG hides its SOF deeper."""
    nbytes = file_size(ref, endpoint_url)
    parsed = parse_header(read_bytes(ref, endpoint_url, limit=HEADER_BYTES))
    if parsed is None and nbytes > HEADER_BYTES:
        parsed = parse_header(read_bytes(ref, endpoint_url))
    fmt, width, height = parsed or ("jpeg", 0, 0)
    return ImageHeader(fmt, width, height, nbytes, fmt == "" or _is_complete(ref, fmt, endpoint_url))


def _is_complete(ref: str, fmt: str, endpoint_url: Optional[str]) -> bool:
    """Truncated uploads are the common corruption: look for the end marker in the tail, else the whole file."""
    if (b"IEND" if fmt == "png" else b"\xff\xd9") in read_tail(ref, 64, endpoint_url):
        return True
    try:
        check_complete(read_bytes(ref, endpoint_url), fmt, ref)
    except DatasetError:
        return False
    return True


def _image_problems(sample: Sample, header: ImageHeader) -> List[str]:
    where = "line %d (%s)" % (sample.line, sample.image_ref)
    if not header.format:
        return ["%s: expected a PNG or JPEG image, got another format" % where]
    problems = []
    if not header.complete:
        problems.append("%s: corrupt or truncated %s image (no end marker)" % (where, header.format.upper()))
    if not header.width or not header.height:
        problems.append("%s: corrupt %s header (no image size found)" % (where, header.format.upper()))
    elif not (MIN_SIDE <= header.width <= MAX_SIDE and MIN_SIDE <= header.height <= MAX_SIDE):
        problems.append("%s: image is %dx%d; expected %d..%d pixels per side"
                        % (where, header.width, header.height, MIN_SIDE, MAX_SIDE))
    if header.nbytes > MAX_IMAGE_BYTES:
        problems.append("%s: image is %.1f MB; expected at most 8 MB" % (where, header.nbytes / 1048576.0))
    return problems


def _header_or_problem(sample: Sample, endpoint_url: Optional[str]) -> Tuple[Optional[ImageHeader], List[str]]:
    try:
        header = read_header(sample.image_ref, endpoint_url)
    except DatasetError as exc:
        return None, ["line %d: image %s: %s" % (sample.line, sample.image_ref, exc.reason)]
    return header, _image_problems(sample, header)


def _mask_problems(sample: Sample, header: Optional[ImageHeader], endpoint_url: Optional[str],
                   seen: Counter) -> Tuple[List[str], int]:
    """Problems of one line's mask; updates `seen` (masks per class); returns (problems, stray pixels)."""
    where = "line %d (%s)" % (sample.line, sample.mask_ref)
    if len(sample.mask_classes) > MAX_CLASSES_PER_MASK:
        return ["%s: %d anomaly labels; expected at most %d per mask"
                % (where, len(sample.mask_classes), MAX_CLASSES_PER_MASK)], 0
    try:
        mask = load_mask(str(sample.mask_ref), endpoint_url)
    except DatasetError as exc:
        return ["line %d: mask %s: %s" % (sample.line, sample.mask_ref, exc.reason)], 0
    if header and header.width and (mask.shape[1], mask.shape[0]) != (header.width, header.height):
        return ["%s: mask is %dx%d but its image is %dx%d" % (where, mask.shape[1], mask.shape[0],
                                                             header.width, header.height)], 0
    labels = mask_to_labels(mask, sample.mask_classes)
    present = np.unique(labels)
    for index in present[present > 0]:
        seen[sample.mask_classes[int(index) - 1].name] += 1
    background = ((mask == 255).all(axis=2) | (mask == 0).all(axis=2)) & (labels == 0)
    stray = int((labels == 0).sum() - background.sum())
    problems = []
    if sample.label == 1 and not (present > 0).any():
        problems.append("%s: labelled anomaly but its mask holds no pixel of any class in its color map" % where)
    if sample.label == 0 and (present > 0).any():
        problems.append("%s: labelled normal but its mask marks anomaly pixels" % where)
    return problems, stray


def _count_problems(dataset: Dataset, role: str) -> List[str]:
    counts = dataset.counts()
    total = counts["normal"] + counts["anomaly"]
    problems = []
    if total > MAX_IMAGES[role]:
        problems.append("%d labeled images; a %s dataset holds at most %d" % (total, role, MAX_IMAGES[role]))
    if counts["normal"] < MIN_NORMAL[role]:
        problems.append("%d normal images; a %s dataset needs at least %d" % (counts["normal"], role,
                                                                             MIN_NORMAL[role]))
    if counts["anomaly"] < MIN_ANOMALOUS[role]:
        problems.append("%d anomalous images; a %s dataset needs at least %d" % (counts["anomaly"], role,
                                                                                MIN_ANOMALOUS[role]))
    return problems


def _class_problems(dataset: Dataset, seen: Counter, role: str) -> List[str]:
    if dataset.task != "segmentation":
        return []
    problems = []
    if not dataset.classes:
        problems.append("segmentation dataset without anomaly classes: no color map names a class")
    if len(dataset.classes) > MAX_CLASSES_PER_PROJECT:
        problems.append("%d anomaly labels; a project holds at most %d" % (len(dataset.classes),
                                                                          MAX_CLASSES_PER_PROJECT))
    for cls in dataset.classes if role != "evaluate" else ():  # a few test images need not show every class
        if not seen[cls.name]:
            problems.append("empty class %r (%s): it is in the color map but no mask has a pixel of it; "
                            "draw it in at least one mask or remove it" % (cls.name, cls.color))
    for sample in dataset.samples:
        if sample.label == 1 and not sample.mask_ref:
            problems.append("line %d (%s): anomalous image without a mask in a segmentation dataset"
                            % (sample.line, sample.image_ref))
    return problems


def size_problem(sizes: Dict[Tuple[int, int], int], examples: Dict[Tuple[int, int], str]) -> List[str]:
    """Lookout trains on one image size per project: list every size found with a count and an example."""
    if len(sizes) <= 1:
        return []
    listed = "; ".join("%dx%d: %d image(s), e.g. %s" % (w, h, n, examples[(w, h)])
                       for (w, h), n in sorted(sizes.items(), key=lambda kv: -kv[1]))
    return ["images must all have one size (Lookout trains one size per project); found %d sizes: %s"
            % (len(sizes), listed)]


def check_limits(dataset: Dataset, role: str, endpoint_url: Optional[str] = None,
                 workers: int = 8) -> LimitsReport:
    """Check counts, formats, sizes, masks and classes for `role`; raise one DatasetError listing all problems."""
    if role not in ROLES:
        raise DatasetError("role must be one of %s, got %r" % (", ".join(ROLES), role), dataset.path)
    samples = [s for s in dataset.samples if s.label is not None]
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        checked = list(pool.map(lambda s: _header_or_problem(s, endpoint_url), samples))
    problems = _count_problems(dataset, role)
    sizes: Counter = Counter()
    examples: Dict[Tuple[int, int], str] = {}
    for sample, (header, found) in zip(samples, checked):
        problems.extend(found)
        if header and header.width:
            sizes[(header.width, header.height)] += 1
            examples.setdefault((header.width, header.height), sample.image_ref)
    problems.extend(size_problem(dict(sizes), examples))
    seen: Counter = Counter()
    stray_lines = []
    for sample, (header, _) in zip(samples, checked):
        if sample.mask_ref:
            found, stray = _mask_problems(sample, header, endpoint_url, seen)
            problems.extend(found)
            if stray:
                stray_lines.append(sample.line)
    problems.extend(_class_problems(dataset, seen, role))
    raise_all(problems, dataset.path)
    warnings = _warnings(dataset, stray_lines)
    return LimitsReport(role=role, counts=dataset.counts(), sizes=dict(sizes), classes=dataset.classes,
                        masks_per_class={c.name: seen[c.name] for c in dataset.classes}, warnings=warnings)


def _warnings(dataset: Dataset, stray_lines: Sequence[int]) -> Tuple[str, ...]:
    warnings = []
    unlabeled = dataset.counts()["unlabeled"]
    if unlabeled:
        warnings.append("%d unlabeled image(s) are ignored" % unlabeled)
    if stray_lines:
        warnings.append("%d mask(s) hold colours outside their color map (treated as background), e.g. line %d"
                        % (len(stray_lines), stray_lines[0]))
    return tuple(warnings)


def raise_all(problems: Sequence[str], path: str) -> None:
    """One DatasetError listing up to MAX_REPORTED problems."""
    if not problems:
        return
    shown = "\n  ".join(problems[:MAX_REPORTED])
    more = "\n  ... and %d more" % (len(problems) - MAX_REPORTED) if len(problems) > MAX_REPORTED else ""
    raise DatasetError("%d problem(s) with Lookout's dataset limits:\n  %s%s" % (len(problems), shown, more),
                       path)


def check_project(train: Dataset, test: Optional[Dataset] = None, endpoint_url: Optional[str] = None
                  ) -> Tuple[LimitsReport, Optional[LimitsReport]]:
    """Check a training set alone ("single") or a train/test pair, including one size across both."""
    if test is None:
        return check_limits(train, "single", endpoint_url), None
    train_report = check_limits(train, "train", endpoint_url)
    test_report = check_limits(test, "test", endpoint_url)
    sizes = set(train_report.sizes) | set(test_report.sizes)
    if len(sizes) > 1:
        listed = ", ".join("%dx%d" % s for s in sorted(sizes))
        raise DatasetError("training and test images must have one size (Lookout trains one size per "
                           "project); found %s" % listed, test.path)
    return train_report, test_report
