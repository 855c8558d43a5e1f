"""Shared-memory frames are read in place (zero host copies); inline frames are staged once.

Real /dev/shm segments (edge_runtime.shm) and real host addresses; the CUDA layer is the NumPy
emulation (no GPU here), which reads "registered" memory through its real address, so a frame that
was copied somewhere else would not be what the kernel saw.
"""

from __future__ import annotations

import logging
import os
import uuid

import numpy as np
import pytest

from edge_runtime.modelpkg.manifest import InputSpec
from edge_runtime.runtime.gpu.pinned import SharedMemoryRegistry, find_mapping
from edge_runtime.runtime.preprocess import preprocess_batch
from edge_runtime.shm import SharedMemorySegment, shm_path
from tests.gpu.emulated_cuda import EmulatedDevice

from .conftest import random_frame


@pytest.fixture
def segment():
    name = "/edge-gpu-test-%s" % uuid.uuid4().hex[:10]
    seg = SharedMemorySegment.create(name, 2 * 480 * 640 * 3 + 4096)
    yield seg
    seg.close()
    if os.path.exists(shm_path(name)):
        os.unlink(shm_path(name))


def _resize_sources(device):
    return [device.region_kind(op[3]["src"]) for op in device.ops if op[0] == "launch" and op[2].startswith("resize")]


@pytest.mark.parametrize("integrated", [True, False], ids=["jetson-mapped", "discrete-dma"])
def test_shared_memory_frame_makes_no_host_copy(make_predictor, segment, integrated):
    """Jetson: the kernel reads the registered segment itself; discrete GPU: one DMA from it, no host copy."""
    predictor, trt, device = make_predictor("10.3.0", integrated=integrated)
    assert predictor.transfer == ("mapped" if integrated else "dma")
    frame_data = random_frame(np.random.default_rng(7), 640, 480)
    segment.write(4096, frame_data)
    frame = segment.array(4096, (480, 640, 3))
    preds = predictor.predict([frame])
    assert predictor.copy_counter.last_batch == [0]
    dma = [op for op in device.ops if op[0] == "htod_dma"]
    if integrated:
        assert _resize_sources(device) == ["registered"] and not dma
    else:
        assert _resize_sources(device) == ["device"] and [op[3] for op in dma] == [frame_data.nbytes]
    seen = trt.engines[0].seen_inputs[-1]
    assert float(np.abs(seen - preprocess_batch([frame_data], InputSpec(32, 32))).max()) <= 1e-3
    inline = predictor.predict([frame_data.copy()])
    assert predictor.copy_counter.last_batch == [1]
    assert abs(inline[0].score - preds[0].score) < 1e-6
    assert predictor.copy_counter.snapshot() == {
        "frames": 2,
        "host_copies": 1,
        "host_copy_bytes": frame_data.nbytes,
        "zero_copy_frames": 1,
    }


def test_segment_is_registered_once_and_frames_inside_it_are_offset(make_predictor, segment):
    predictor, trt, device = make_predictor("8.5.2.2")
    rng = np.random.default_rng(8)
    first, second = random_frame(rng, 64, 48), random_frame(rng, 64, 48)
    segment.write(0, first)
    segment.write(100_000, second)
    a, b = segment.array(0, (48, 64, 3)), segment.array(100_000, (48, 64, 3))
    predictor.predict([a, b])
    predictor.predict([b])
    assert predictor.copy_counter.last_batch == [0]
    registers = [op for op in device.ops if op[0] == "register"]
    assert len(registers) == 1 and registers[0][2] == segment.size and registers[0][3] is False
    seen = trt.engines[0].seen_inputs
    assert np.array_equal(seen[0][1], seen[1][0])  # frame b read at its offset both times
    assert not np.array_equal(seen[0][0], seen[0][1])


def test_mixed_batch_counts_per_frame(make_predictor, segment):
    predictor, _, _ = make_predictor("10.3.0")
    frame = random_frame(np.random.default_rng(9), 32, 32)
    segment.write(0, frame)
    predictor.predict([segment.array(0, (32, 32, 3)), frame, frame[:, ::-1]])  # shm, inline, strided inline
    assert predictor.copy_counter.last_batch == [0, 1, 1]


def test_read_only_mapping_registers_read_only(make_predictor, segment):
    predictor, _, device = make_predictor("10.3.0")
    reader = SharedMemorySegment.open(segment.name, writable=False)
    try:
        predictor.predict([reader.array(0, (32, 32, 3))])
        assert [op[3] for op in device.ops if op[0] == "register"] == [True]
        assert predictor.copy_counter.last_batch == [0]
    finally:
        predictor.close()
        reader.close()


def test_refused_registration_falls_back_to_staging_once_warned(segment, caplog):
    device = EmulatedDevice(fail_register=True)
    registry = SharedMemoryRegistry(device)
    frame = segment.array(0, (10, 10, 3))
    with caplog.at_level(logging.WARNING):
        assert registry.locate(frame) is None
        assert registry.locate(frame) is None
    assert len([r for r in caplog.records if "cannot be registered" in r.message]) == 1


def test_registration_keeps_the_mapping_alive_until_released(segment):
    device = EmulatedDevice()
    registry = SharedMemoryRegistry(device, max_segments=1)
    frame = segment.array(0, (10, 10, 3))
    located = registry.locate(frame)
    assert located is not None and located[1] == 30
    mapping = find_mapping(frame)
    del frame
    segment.close()  # deferred: the registration still exports the mapping
    assert not mapping.closed
    registry.close()
    assert device.registered_addresses() == [] and [op[0] for op in device.ops][-1] == "unregister"
    mapping.close()  # now nothing exports it


def test_lru_eviction_unregisters(segment):
    device = EmulatedDevice()
    registry = SharedMemoryRegistry(device, max_segments=1)
    other = SharedMemorySegment.create(segment.name + "-b", 4096)
    try:
        assert registry.locate(segment.array(0, (4, 4, 3))) is not None
        assert registry.locate(other.array(0, (4, 4, 3))) is not None
        assert registry.registered() == 1 and len(device.registered_addresses()) == 1
        assert [op[0] for op in device.ops if op[0] in ("register", "unregister")] == [
            "register",
            "register",
            "unregister",
        ]
    finally:
        registry.close()
        other.close()
        other.unlink()


def test_frames_not_in_shared_memory_are_not_registered():
    registry = SharedMemoryRegistry(EmulatedDevice())
    assert registry.locate(np.zeros((4, 4, 3), np.uint8)) is None
    assert registry.registered() == 0


def test_two_models_share_one_registration_per_gpu(tmp_path, segment):
    """CUDA refuses to register a range twice: predictors on one GPU share the registry."""
    from edge_runtime.runtime.gpu.engine_source import EngineSource
    from edge_runtime.runtime.gpu.tensorrt_predictor import TensorRTPredictor
    from tests.fakes.tensorrt import EngineSpec, make_module

    from .conftest import manifest_for, stub_compiler

    device = EmulatedDevice()
    plan = tmp_path / "e.plan"
    plan.write_bytes(b"plan")
    predictors = []
    for _ in range(2):
        trt = make_module("10.3.0", engine=EngineSpec(), device=device)
        predictor = TensorRTPredictor(
            manifest_for("classification", InputSpec(32, 32)),
            EngineSource(engine_path=str(plan)),
            device=device,
            trt=trt,
            compiler=stub_compiler,
        )
        predictor.load()
        predictors.append(predictor)
    frame = segment.array(0, (32, 32, 3))
    for predictor in predictors:
        predictor.predict([frame])
        assert predictor.copy_counter.last_batch == [0]
    assert [op[0] for op in device.ops if op[0] in ("register", "unregister")] == ["register"]
    predictors[0].close()
    assert len(device.registered_addresses()) == 1  # still in use by the second model
    predictors[1].close()
    assert device.registered_addresses() == []
