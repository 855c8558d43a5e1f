"""The TensorRT predictor against a fake TensorRT runtime on the NumPy-emulated CUDA layer.

Fakes because no GPU, CUDA driver or TensorRT exist here (see conftest.py); what is checked is real:
the 8.5 bindings vs 10 tensor call sequences, profile batch limits, what the engine received as input
(compared with the CPU preprocessing), double-buffer ordering, and results equal to the CPU path.
"""

from __future__ import annotations

import numpy as np
import pytest

from edge_runtime.errors import CompileError, FailedPrecondition, ModelPackageError
from edge_runtime.modelpkg.manifest import InputSpec
from edge_runtime.runtime.gpu.engine_source import EngineSource
from edge_runtime.runtime.gpu.tensorrt_predictor import TensorRTPredictor
from edge_runtime.runtime.postprocess import predictions_from_outputs
from edge_runtime.runtime.preprocess import preprocess_batch
from tests.fakes.tensorrt import HALF, EngineSpec, make_module, reference_outputs
from tests.gpu.emulated_cuda import EmulatedDevice

from .conftest import manifest_for, random_frame, stub_compiler


def _calls(trt, name):
    return [c for c in trt.calls if c[0] == name]


@pytest.mark.parametrize("version", ["8.5.2.2", "10.3.0"])
def test_classification_matches_cpu_path(make_predictor, version):
    predictor, trt, _ = make_predictor(version)
    rng = np.random.default_rng(1)
    frames = [random_frame(rng, 640, 480), random_frame(rng, 20, 30), random_frame(rng, 32, 32)]
    preds = predictor.predict(frames)
    expected_input = preprocess_batch(frames, InputSpec(32, 32))
    seen = trt.engines[0].seen_inputs[-1]
    assert float(np.abs(seen - expected_input).max()) <= 1e-3
    expected = reference_outputs(expected_input, None)["score"]
    assert [round(p.score, 5) for p in preds] == [round(float(s), 5) for s in expected]


def test_tensorrt_85_uses_bindings_per_profile(make_predictor):
    predictor, trt, _ = make_predictor("8.5.2.2")
    assert predictor.engine.api.kind == "bindings"
    frame = np.zeros((32, 32, 3), np.uint8)
    predictor.predict([frame] * 2)  # slot 0: context on profile 0
    predictor.predict([frame] * 3)  # slot 1: context on profile 1
    shapes = _calls(trt, "set_binding_shape")
    assert [(c[2], c[3]) for c in shapes[-2:]] == [(0, (2, 3, 32, 32)), (2, (3, 3, 32, 32))]  # 2 bindings a profile
    runs = _calls(trt, "execute_async_v2")
    assert runs[-1][2][:2] == (0, 0) and all(runs[-1][2][2:])  # profile 1's bindings filled, profile 0's not
    assert [c[2] for c in _calls(trt, "set_optimization_profile_async")] == [0, 1]
    assert not _calls(trt, "execute_async_v3") and not _calls(trt, "set_tensor_address")


def test_tensorrt_10_uses_named_tensors(make_predictor):
    predictor, trt, device = make_predictor("10.3.0")
    assert predictor.engine.api.kind == "tensors"
    predictor.predict([np.zeros((48, 64, 3), np.uint8)])
    assert [c[2:] for c in _calls(trt, "set_input_shape")] == [("image", (1, 3, 32, 32))]
    assert sorted(c[2] for c in _calls(trt, "set_tensor_address")) == ["image", "score"]
    (run,) = _calls(trt, "execute_async_v3")
    assert run[2] == device.stream_handle(predictor._slots[0].stream)
    assert not _calls(trt, "execute_async_v2")


def test_unsupported_tensorrt_version_is_refused(tmp_path):
    device = EmulatedDevice()
    trt = make_module("7.2.3", engine=EngineSpec(), device=device)
    path = tmp_path / "e.plan"
    path.write_bytes(b"plan")
    predictor = TensorRTPredictor(
        manifest_for("classification", InputSpec(32, 32)),
        EngineSource(engine_path=str(path)),
        device=device,
        trt=trt,
        compiler=stub_compiler,
    )
    with pytest.raises(CompileError, match="TensorRT 7.2.3 is not supported"):
        predictor.load()


def test_batch_limits_come_from_the_profiles(make_predictor):
    predictor, trt, _ = make_predictor("10.3.0", EngineSpec(profiles=[(2, 4, 4), (1, 3, 6)]), max_batch=8)
    assert (predictor.engine.min_batch, predictor.max_batch_size) == (2, 4)  # common to both profiles
    with pytest.raises(ValueError, match="outside 1..4"):
        predictor.predict([np.zeros((32, 32, 3), np.uint8)] * 5)
    preds = predictor.predict([np.zeros((32, 32, 3), np.uint8)])  # padded up to the minimum batch 2
    assert len(preds) == 1 and _calls(trt, "set_input_shape")[-1][3][0] == 2


def test_static_batch_engine_runs_its_fixed_batch(make_predictor):
    predictor, trt, _ = make_predictor("8.5.2.2", EngineSpec(static_batch=4))
    assert (predictor.engine.min_batch, predictor.max_batch_size) == (4, 4)
    assert len(predictor.predict([np.zeros((32, 32, 3), np.uint8)] * 3)) == 3
    assert not _calls(trt, "set_binding_shape") and len(_calls(trt, "execute_async_v2")) == 1


def test_requested_batch_caps_the_profile(make_predictor):
    predictor, _, _ = make_predictor("10.3.0", EngineSpec(profiles=[(1, 8, 16)]), max_batch=6)
    assert predictor.max_batch_size == 6


@pytest.mark.parametrize("version", ["8.5.2.2", "10.3.0"])
def test_segmentation_on_gpu_matches_cpu_postprocess(make_predictor, version):
    predictor, trt, device = make_predictor(version, task="segmentation")
    rng = np.random.default_rng(2)
    frames = [random_frame(rng, 640, 480), random_frame(rng, 77, 51)]
    preds = predictor.predict(frames)
    batch = preprocess_batch(frames, InputSpec(32, 32))
    outputs = reference_outputs(batch, (3, 8, 8))
    cpu = predictions_from_outputs(outputs, [(640, 480), (77, 51)], predictor.manifest)
    for got, want in zip(preds, cpu):
        assert np.array_equal(got.class_map, want.class_map)
        assert np.allclose(got.class_fractions, want.class_fractions)
        assert abs(got.score - want.score) < 1e-5
    copied = [op for op in device.ops if op[0] == "dtoh"]
    assert sum(op[3] for op in copied) == 640 * 480 + 77 * 51 + 2 * 3 * 4 + 2 * 4  # maps, counts, scores only


def test_float16_engine_io(make_predictor):
    engine = EngineSpec(seg=(3, 8, 8), input_dtype=HALF, output_dtype=HALF)
    predictor, trt, _ = make_predictor("10.3.0", engine, task="segmentation")
    frame = random_frame(np.random.default_rng(4), 100, 60)
    pred = predictor.predict([frame])[0]
    seen = trt.engines[0].seen_inputs[-1]
    assert seen.dtype == np.float16
    assert float(np.abs(seen.astype(np.float32) - preprocess_batch([frame], InputSpec(32, 32))).max()) <= 1e-3
    assert pred.class_map.shape == (60, 100) and abs(sum(pred.class_fractions) - 1.0) < 1e-9


def test_double_buffering_overlaps_preprocessing_with_inference(make_predictor):
    predictor, trt, device = make_predictor("10.3.0")
    rng = np.random.default_rng(6)
    batches = [[random_frame(rng, 64, 48)] for _ in range(3)]
    results = list(predictor.predict_pipelined(batches))
    assert len(results) == 3
    slot_a, slot_b = (s.stream.id for s in predictor._slots)
    ops = device.ops
    launches = [i for i, op in enumerate(ops) if op[0] == "launch" and op[2].startswith("resize")]
    syncs = [i for i, op in enumerate(ops) if op[0] == "event_sync"]
    assert [ops[i][1] for i in launches] == [slot_a, slot_b, slot_a]  # batches alternate slots
    assert launches[1] < syncs[0]  # batch 2 was being preprocessed before batch 1 was waited for
    assert launches[2] > syncs[0]  # slot A is reused only after its batch was collected


def test_one_context_is_shared_in_order(make_predictor):
    """A one-profile engine gives one context; the second slot waits for the first's inference."""
    predictor, trt, device = make_predictor("10.3.0", EngineSpec(profiles=[(1, 4, 4)]))
    assert len(predictor.engine.contexts) == 1
    frame = np.zeros((32, 32, 3), np.uint8)
    list(predictor.predict_pipelined([[frame], [frame]]))
    waits = [op for op in device.ops if op[0] == "stream_wait"]
    slot_a, slot_b = predictor._slots
    assert waits == [("stream_wait", slot_b.stream.id, slot_a.infer_done.id)]


def test_engine_errors_are_clear(tmp_path):
    device = EmulatedDevice()
    manifest = manifest_for("classification", InputSpec(32, 32))
    cases = [
        (b"bad", EngineSpec(), FailedPrecondition, "could not deserialize"),
        (b"plan", EngineSpec(height=64, width=64), ModelPackageError, r"must be \[N, 3, 32, 32\]"),
    ]
    for plan, spec, error, message in cases:
        path = tmp_path / "e.plan"
        path.write_bytes(plan)
        trt = make_module("10.3.0", engine=spec, device=device)
        predictor = TensorRTPredictor(
            manifest, EngineSource(engine_path=str(path)), device=device, trt=trt, compiler=stub_compiler
        )
        with pytest.raises(error, match=message):
            predictor.load()
    seg_manifest = manifest_for("segmentation", InputSpec(32, 32))
    trt = make_module("10.3.0", engine=EngineSpec(), device=device)
    predictor = TensorRTPredictor(
        seg_manifest, EngineSource(engine_path=str(path)), device=device, trt=trt, compiler=stub_compiler
    )
    with pytest.raises(ModelPackageError, match="lacks tensors"):
        predictor.load()


def test_close_frees_everything(make_predictor):
    predictor, _, device = make_predictor("8.5.2.2", task="segmentation")
    predictor.predict([np.zeros((40, 30, 3), np.uint8), np.zeros((10, 10, 3), np.uint8)])
    assert device.live_allocations() > 0
    predictor.close()
    assert device.live_allocations() == 0
    predictor.close()  # idempotent


def test_engine_seam_infer_and_warmup(make_predictor):
    predictor, trt, device = make_predictor("8.5.2.2", EngineSpec(seg=(3, 8, 8)), task="segmentation")
    batch = np.random.default_rng(3).standard_normal((3, 3, 32, 32)).astype(np.float32)
    outputs = predictor.engine.infer(batch)
    expected = reference_outputs(batch, (3, 8, 8))
    assert sorted(outputs) == ["score", "seg"]
    assert np.allclose(outputs["score"], expected["score"]) and np.allclose(outputs["seg"], expected["seg"])
    before = len(_calls(trt, "execute_async_v2"))
    predictor.warmup()
    shapes = [c[3][0] for c in _calls(trt, "set_binding_shape")[-2:]]
    assert len(_calls(trt, "execute_async_v2")) == before + 2 and shapes == [1, 4]
