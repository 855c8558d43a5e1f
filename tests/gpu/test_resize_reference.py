"""The NumPy twin of the CUDA kernels equals cv2 / the CPU path (no GPU needed: this checks the math).

The kernels index the same tables and do the same operations as kernel_reference.py, so these tests
are what verifies the GPU resize here; scripts/gpu_check.py compares the kernels to it on a GPU.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge_runtime.errors import InvalidArgument
from edge_runtime.modelpkg.manifest import InputSpec
from edge_runtime.runtime.gpu.resize_tables import (
    MODE_AREA,
    MODE_AREA_2X2,
    MODE_AREA_INT,
    MODE_LINEAR,
    plan_resize,
)
from edge_runtime.runtime.postprocess import predictions_from_outputs
from edge_runtime.runtime.preprocess import preprocess_batch
from tests.gpu.kernel_reference import preprocess_reference, resize_reference, segment_reference

from .conftest import manifest_for

# (source w, h) -> (destination w, h), interpolation setting, the cv2 branch it must take
CASES = [
    ((640, 480), (224, 224), "area", MODE_AREA),  # fractional shrink, both axes
    ((1000, 700), (320, 240), "area", MODE_AREA),
    ((1920, 1080), (513, 389), "area", MODE_AREA),  # odd ratios
    ((223, 225), (224, 224), "area", MODE_LINEAR),  # one axis grows: linear
    ((100, 80), (224, 224), "area", MODE_LINEAR),  # enlarging
    ((57, 33), (224, 224), "linear", MODE_LINEAR),
    ((1000, 700), (300, 250), "linear", MODE_LINEAR),  # linear shrink
    ((640, 480), (320, 240), "area", MODE_AREA_2X2),
    ((640, 480), (320, 240), "linear", MODE_AREA_2X2),  # cv2 turns an exact 2x2 linear shrink into area
    ((672, 672), (224, 224), "area", MODE_AREA_INT),  # integer 3x3
    ((448, 224), (224, 224), "area", MODE_AREA_INT),  # 2x1
]


@pytest.mark.parametrize("src,dst,interpolation,mode", CASES)
def test_resize_reference_is_bit_exact_with_cv2(src, dst, interpolation, mode):
    rng = np.random.default_rng(src[0] * 7 + dst[0])
    frame = rng.integers(0, 256, (src[1], src[0], 3), dtype=np.uint8)
    plan = plan_resize(src[0], src[1], dst[0], dst[1], interpolation)
    assert plan.mode == mode
    flag = cv2.INTER_LINEAR if mode == MODE_LINEAR else cv2.INTER_AREA
    expected = cv2.resize(frame, dst, interpolation=flag)
    got = resize_reference(frame, plan)
    assert got.shape == expected.shape
    assert int(np.abs(got.astype(int) - expected).max()) == 0, "mismatching pixels: %d" % (got != expected).sum()


def test_smooth_image_also_exact():
    """A gradient has many exact .5 ties in area sums: rounding must be half-to-even like cv2."""
    y, x = np.mgrid[0:333, 0:517]
    frame = np.stack([(x % 256), (y % 256), ((x + y) // 3 % 256)], axis=2).astype(np.uint8)
    for dst in ((224, 224), (100, 37), (517 // 2, 333 // 3)):
        plan = plan_resize(517, 333, dst[0], dst[1], "area")
        assert np.array_equal(resize_reference(frame, plan), cv2.resize(frame, dst, interpolation=cv2.INTER_AREA))


@pytest.mark.parametrize(
    "spec",
    [InputSpec(224, 224), InputSpec(96, 64, color_order="BGR"), InputSpec(80, 80, interpolation="linear")],
)
def test_preprocess_reference_matches_cpu_path_within_1e_3(spec):
    rng = np.random.default_rng(3)
    sizes = [(640, 480), (spec.width, spec.height), (50, 41), (1280, 721), (spec.width * 2, spec.height * 2)]
    frames = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for w, h in sizes]
    cpu = preprocess_batch(frames, spec)
    gpu32 = preprocess_reference(frames, spec, "float32")
    gpu16 = preprocess_reference(frames, spec, "float16")
    assert gpu32.dtype == np.float32 and gpu16.dtype == np.float16
    assert float(np.abs(gpu32 - cpu).max()) <= 1e-3
    assert float(np.abs(gpu16.astype(np.float32) - cpu).max()) <= 1e-3


def test_segment_reference_matches_cpu_postprocess():
    rng = np.random.default_rng(5)
    seg = rng.random((2, 3, 7, 9)).astype(np.float32)
    seg[0, :, 0, 0] = 0.5  # a three-way tie: the first class wins, as np.argmax
    sizes = [(640, 480), (33, 17)]
    manifest = manifest_for("segmentation", InputSpec(32, 32))
    cpu = predictions_from_outputs({"score": np.zeros(2), "seg": seg}, sizes, manifest)
    for i, (w, h) in enumerate(sizes):
        class_map, counts = segment_reference(seg[i], w, h)
        assert np.array_equal(class_map, cpu[i].class_map)
        assert np.allclose(counts / float(w * h), cpu[i].class_fractions)


def test_bad_frames_are_refused_with_what_arrived():
    plan = plan_resize(10, 10, 5, 5)
    with pytest.raises(InvalidArgument, match="uint8, HxWx3.*float32"):
        resize_reference(np.zeros((10, 10, 3), np.float32), plan)
    with pytest.raises(InvalidArgument, match="plan is for 10x10"):
        resize_reference(np.zeros((12, 10, 3), np.uint8), plan)
    with pytest.raises(InvalidArgument, match="interpolation"):
        plan_resize(10, 10, 5, 5, "cubic")


def test_affine_coefficients_equal_the_cpu_paths():
    from edge_runtime.runtime import preprocess
    from edge_runtime.runtime.gpu.preprocess_cuda import affine_coefficients

    spec = InputSpec(32, 32, scale=1 / 127.5, mean=(0.5, 0.4, 0.3), std=(0.2, 0.3, 0.4))
    for mine, theirs in zip(affine_coefficients(spec), preprocess.affine_coefficients(spec)):
        assert mine.dtype == theirs.dtype and np.array_equal(mine, theirs)
