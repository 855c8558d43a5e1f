"""Split a single dataset into training and test samples, as Lookout did for single-dataset projects.

Stratified by label (normal and anomalous keep their proportions in both parts), unlabeled images left
out, a fixed seed, and the original manifest order kept inside each part, so the same manifest and
seed always give the same split on any machine.
"""

from __future__ import annotations

from typing import List, Set, Tuple

import numpy as np

from edge_runtime.datasets.types import Dataset, Sample
from edge_runtime.errors import DatasetError, InvalidArgument


def _test_count(n: int, test_fraction: float) -> int:
    """Round to nearest, but keep at least one image on each side when a label has two or more."""
    count = int(round(n * test_fraction))
    if n >= 2:
        count = min(max(count, 1), n - 1)
    return count


def split_dataset(dataset: Dataset, test_fraction: float = 0.2, seed: int = 0
                  ) -> Tuple[Tuple[Sample, ...], Tuple[Sample, ...]]:
    """(train_samples, test_samples); each label contributes round(n * test_fraction) test images."""
    if not 0.0 < test_fraction < 1.0:
        raise InvalidArgument("test_fraction must be between 0 and 1 (exclusive), got %r" % (test_fraction,))
    labeled = dataset.labeled
    if not labeled:
        raise DatasetError("no labeled images to split (every line is unlabeled)", dataset.path)
    test_lines: Set[int] = set()
    for label in (0, 1):
        group = [s for s in labeled if s.label == label]
        if not group:
            continue
        rng = np.random.default_rng([seed, label])
        order = rng.permutation(len(group))
        test_lines.update(group[i].line for i in order[: _test_count(len(group), test_fraction)])
    train: List[Sample] = [s for s in labeled if s.line not in test_lines]
    test: List[Sample] = [s for s in labeled if s.line in test_lines]
    return tuple(train), tuple(test)
