"""models.instances: several ONNX Runtime sessions per model, each running its own batches.

The Batcher's workers and the predictor's instance pool are checked for real concurrency with
barriers (two batches must be inside predict at the same time, which one worker can never do),
then the real agent serves a real two-session model to concurrent callers.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from edge_runtime.agent.batcher import Batcher
from edge_runtime.agent.config import BatchingConfig, config_from_dict
from edge_runtime.agent.memory import estimate_model_bytes
from edge_runtime.errors import FailedPrecondition, InvalidArgument
from edge_runtime.modelpkg.manifest import read_manifest
from edge_runtime.runtime.cpu_predictor import CpuPredictor
from edge_runtime.runtime.factory import PredictorOptions, create_predictor
from edge_runtime.runtime.loader import load_package
from edge_runtime.runtime.types import Prediction
from tests.agent.conftest import frame, half_red_frame


def numbered(i):
    f = np.zeros((2, 2, 3), np.uint8)
    f[0, 0, 0] = i
    return f


class BarrierPredict:
    """predict() that waits until `parties` batches are inside it at once."""

    def __init__(self, parties):
        self.barrier = threading.Barrier(parties, timeout=5)
        self.batches = []
        self.lock = threading.Lock()

    def __call__(self, frames):
        self.barrier.wait()  # BrokenBarrierError if the batches ran one after another
        with self.lock:
            self.batches.append(len(frames))
        return [Prediction(score=float(f[0, 0, 0])) for f in frames]


def test_two_workers_run_two_batches_at_once():
    predict = BarrierPredict(2)
    batcher = Batcher("m", predict, BatchingConfig(max_batch_size=1, max_wait_ms=0), workers=2)
    batcher.start()
    futures = [batcher.submit(numbered(i)) for i in range(6)]
    assert [f.result(10).score for f in futures] == list(range(6))
    assert predict.batches == [1] * 6
    batcher.stop(timeout=10)
    assert not any(t.is_alive() for t in batcher._threads), "every worker stopped"
    with pytest.raises(FailedPrecondition, match="stopping"):
        batcher.submit(numbered(1))


def test_one_worker_cannot_overlap_batches():
    """The control for the test above: the same barrier breaks with a single worker."""
    predict = BarrierPredict(2)
    batcher = Batcher("m", predict, BatchingConfig(max_batch_size=1, max_wait_ms=0), workers=1)
    batcher.start()
    futures = [batcher.submit(numbered(i)) for i in range(2)]
    with pytest.raises(Exception, match="failed"):
        futures[0].result(10)
    batcher.stop(timeout=10)


def test_stop_with_several_workers_finishes_queued_work():
    gate = threading.Event()
    seen = []

    def slow(frames):
        assert gate.wait(10)
        seen.extend(int(f[0, 0, 0]) for f in frames)
        return [Prediction(score=float(f[0, 0, 0])) for f in frames]

    batcher = Batcher("m", slow, BatchingConfig(max_batch_size=2, max_wait_ms=0, queue_size=32), workers=3)
    batcher.start()
    futures = [batcher.submit(numbered(i)) for i in range(12)]
    stopper = threading.Thread(target=batcher.stop, kwargs={"timeout": 20})
    stopper.start()
    gate.set()
    stopper.join(20)
    assert not stopper.is_alive()
    assert [f.result(1).score for f in futures] == list(range(12)), "queued work finished before stopping"
    assert sorted(seen) == list(range(12))


class GatedEngine:
    """A stand-in Engine that records which instance ran and waits for its partner instance."""

    def __init__(self, barrier, log, index):
        self.barrier, self.log, self.index = barrier, log, index
        self.backend, self.max_batch_size = "fake", 4

    def load(self):
        pass

    def infer(self, batch):
        self.log.append(self.index)
        self.barrier.wait()
        return {"score": batch.mean(axis=(1, 2, 3))}

    def close(self):
        pass


def test_cpu_predictor_runs_its_instances_side_by_side(tiny_packages):
    manifest = read_manifest(tiny_packages["classify"])
    barrier, log = threading.Barrier(2, timeout=5), []
    predictor = CpuPredictor(manifest, [GatedEngine(barrier, log, i) for i in range(2)])
    predictor.load()
    assert predictor.instances == 2
    frames = [frame(64, 64, (v, v, v)) for v in (10, 200)]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda f: predictor.predict([f])[0].score, frames))
    assert sorted(log) == [0, 1], "each call took its own instance"
    assert results[0] != results[1], "each call kept its own input buffer"


def test_real_sessions_give_the_same_results_as_one(tiny_packages):
    package = load_package(tiny_packages["segment"])
    one = create_predictor(package, PredictorOptions(max_batch_size=4, prefer_gpu=False))
    two = create_predictor(package, PredictorOptions(max_batch_size=4, prefer_gpu=False, instances=2))
    assert "2 instances" in two.backend_note
    for p in (one, two):
        p.load()
    assert two.instances == 2 and len({id(e._session) for e in two.engines}) == 2
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (96, 128, 3), dtype=np.uint8) for _ in range(16)]
    expected = [one.predict([f])[0] for f in frames]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda f: two.predict([f])[0], frames))
    for e, g in zip(expected, got):
        assert g.score == pytest.approx(e.score, abs=1e-6)
        assert np.array_equal(g.class_map, e.class_map)
    one.close()
    two.close()


def test_instances_are_validated_and_counted_in_the_memory_estimate(tiny_packages):
    with pytest.raises(InvalidArgument, match="models.instances must be 1..16"):
        config_from_dict({"models": {"instances": 0}})
    folder = tiny_packages["classify"]
    manifest = read_manifest(folder)
    assert estimate_model_bytes(folder, manifest, 8, 2) == 2 * estimate_model_bytes(folder, manifest, 8)


def test_agent_serves_a_model_with_two_instances(start_agent, lookout_client):
    pb2, _ = lookout_client
    agent = start_agent(models={"instances": 2}, batching={"max_batch_size": 2, "max_wait_ms": 1})
    agent.start_and_wait(pb2, "segment")
    images = [half_red_frame(), frame(128, 96)]

    def caller(i):
        image = images[i % 2]
        request = pb2.DetectAnomaliesRequest(model_component="segment", bitmap=pb2.Bitmap(
            width=image.shape[1], height=image.shape[0], byte_data=image.tobytes()))
        return [agent.stub.DetectAnomalies(request).detect_anomaly_result.is_anomalous for _ in range(10)]

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(caller, range(6)))
    assert results == [[i % 2 == 0] * 10 for i in range(6)], "the scratched frame is anomalous, the black one not"
    _, data = agent.metrics()
    stats = data["models"]["segment"]
    assert stats["requests"]["OK"] == 60
    assert "2 instances x %d threads" % max(1, len(os.sched_getaffinity(0)) // 2) in stats["backend_note"]


def test_stop_ends_a_busy_worker_even_when_an_idle_one_takes_the_first_stop_marker():
    """Any idle worker may take any stop marker. A pause after each put lets the idle worker take the
    first one before stop() looks again; every worker must still get one (here: the busy one)."""
    gate = threading.Event()

    def slow(frames):
        assert gate.wait(10)
        return [Prediction(score=1.0) for _ in frames]

    batcher = Batcher("m", slow, BatchingConfig(max_batch_size=1, max_wait_ms=0), workers=2)
    batcher.start()
    busy = batcher.submit(numbered(1))
    time.sleep(0.1)  # one worker is inside predict, the other waits on the queue
    put = batcher._queue.put

    def put_then_yield(item, *args, **kwargs):
        put(item, *args, **kwargs)
        time.sleep(0.1)

    batcher._queue.put = put_then_yield
    stopper = threading.Thread(target=batcher.stop)
    stopper.start()
    time.sleep(0.3)
    gate.set()
    stopper.join(10)
    assert not stopper.is_alive(), "stop() hung: the busy worker never got a stop marker"
    assert busy.result(1).score == 1.0


class SizeRecordingEngine:
    backend, max_batch_size = "fake", 4

    def __init__(self):
        self.sizes = []

    def load(self):
        pass

    def infer(self, batch):
        self.sizes.append(len(batch))
        return {"score": np.zeros(len(batch), np.float32)}

    def close(self):
        pass


def test_warmup_runs_every_batch_size_on_every_instance_and_predict_needs_load(tiny_packages):
    engines = [SizeRecordingEngine() for _ in range(3)]
    predictor = CpuPredictor(read_manifest(tiny_packages["classify"]), engines)
    with pytest.raises(RuntimeError, match="not loaded"):
        predictor.predict([frame()])
    predictor.load()
    predictor.load()  # a second load adds no slots
    predictor.warmup()
    assert [sorted(e.sizes) for e in engines] == [[1, 4]] * 3
    assert predictor._free.qsize() == 3
