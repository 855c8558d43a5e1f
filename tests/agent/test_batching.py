"""Dynamic batching: unit tests of the Batcher with a recording predict function (a plain Python
callable stands in for the model, since what is tested is the queueing), then the real daemon with
8 concurrent callers whose metrics must show batches larger than one."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from edge_runtime.agent.batcher import Batcher, InferenceError
from edge_runtime.agent.config import BatchingConfig
from edge_runtime.agent.metrics import ModelMetrics
from edge_runtime.errors import DeadlineExceeded, FailedPrecondition, ResourceExhausted
from edge_runtime.runtime.types import Prediction
from tests.agent.conftest import frame


class Recorder:
    def __init__(self, gate=None, bad_count=False):
        self.batches = []
        self.gate = gate
        self.bad_count = bad_count
        self.entered = threading.Event()

    def __call__(self, frames):
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(10)
        self.batches.append(len(frames))
        preds = [Prediction(score=float(f[0, 0, 0])) for f in frames]
        return preds[:-1] if self.bad_count else preds


def numbered(i):
    f = np.zeros((2, 2, 3), np.uint8)
    f[0, 0, 0] = i
    return f


def test_concurrent_requests_share_a_batch_and_results_stay_in_order():
    gate = threading.Event()
    recorder = Recorder(gate)
    metrics = ModelMetrics()
    batcher = Batcher("m", recorder, BatchingConfig(max_batch_size=4, max_wait_ms=50, queue_size=16), metrics)
    batcher.start()
    first = batcher.submit(numbered(0))
    assert recorder.entered.wait(5)  # worker busy with a batch of one
    futures = [batcher.submit(numbered(i)) for i in range(1, 10)]
    gate.set()
    assert first.result(5).score == 0
    assert [f.result(5).score for f in futures] == list(range(1, 10)), "each caller gets its own frame's result"
    assert recorder.batches == [1, 4, 4, 1]  # queued requests were gathered up to max_batch_size
    assert metrics.to_dict()["batch_size"]["max"] == 4
    batcher.stop()


def test_queue_is_bounded_and_stop_drains_then_refuses():
    gate = threading.Event()
    recorder = Recorder(gate)
    batcher = Batcher("m", recorder, BatchingConfig(max_batch_size=1, max_wait_ms=0, queue_size=2))
    batcher.start()
    running = batcher.submit(numbered(1))
    assert recorder.entered.wait(5)
    queued = [batcher.submit(numbered(2)), batcher.submit(numbered(3))]
    with pytest.raises(ResourceExhausted, match="queue_size"):
        batcher.submit(numbered(4))
    stopper = threading.Thread(target=batcher.stop)
    stopper.start()
    time.sleep(0.05)
    with pytest.raises(FailedPrecondition, match="stopping"):
        batcher.submit(numbered(5))
    gate.set()
    stopper.join(10)
    assert [f.result(5).score for f in [running] + queued] == [1, 2, 3], "queued work finished before stopping"


def test_wrong_number_of_outputs_and_model_errors_fail_the_batch_not_the_worker():
    recorder = Recorder(bad_count=True)
    batcher = Batcher("m", recorder, BatchingConfig(max_batch_size=2, max_wait_ms=0))
    batcher.start()
    with pytest.raises(InferenceError, match="returned 0 results for a batch of 1"):
        batcher.submit(numbered(1)).result(5)
    recorder.bad_count = False
    assert batcher.submit(numbered(7)).result(5).score == 7

    def broken(frames):
        raise ValueError("shape mismatch")

    batcher._predict = broken
    with pytest.raises(InferenceError, match="ValueError: shape mismatch"):
        batcher.submit(numbered(1)).result(5)
    batcher.stop()


def test_expired_requests_fail_with_deadline_exceeded_and_are_not_run():
    recorder = Recorder()
    batcher = Batcher("m", recorder, BatchingConfig(max_batch_size=2, max_wait_ms=0))
    batcher.start()
    with pytest.raises(DeadlineExceeded, match="deadline"):
        batcher.submit(numbered(1), deadline=time.monotonic() - 1).result(5)
    assert recorder.batches == []
    batcher.stop()


def test_a_cancelled_expired_request_does_not_fail_the_rest_of_its_batch():
    """The servicer cancels a future whose deadline passed; its batch mates must still get results."""
    gate = threading.Event()
    recorder = Recorder(gate)
    batcher = Batcher("m", recorder, BatchingConfig(max_batch_size=4, max_wait_ms=0, queue_size=16))
    batcher.start()
    busy = batcher.submit(numbered(1))
    assert recorder.entered.wait(5)  # the worker is in the model; the next two queue up together
    doomed = batcher.submit(numbered(2), deadline=time.monotonic() + 0.05)
    mate = batcher.submit(numbered(3))
    time.sleep(0.1)
    assert doomed.cancel()  # what the servicer does when the call's deadline passes
    gate.set()
    assert busy.result(5).score == 1
    assert mate.result(5).score == 3
    assert doomed.cancelled()
    assert recorder.batches == [1, 1]
    batcher.stop()


def test_a_lone_request_on_a_free_worker_runs_at_once():
    """No idle wait: with nothing else queued or expected, max_wait_ms is not spent."""
    recorder = Recorder()
    batcher = Batcher("m", recorder, BatchingConfig(max_batch_size=8, max_wait_ms=1000))
    batcher.start()
    for i in range(3):  # a lone camera: each request after the previous answer
        started = time.monotonic()
        assert batcher.submit(numbered(i)).result(5).score == i
        assert time.monotonic() - started < 0.5, "a lone request waited for company that never came"
    assert recorder.batches == [1, 1, 1]
    batcher.stop()


def test_requests_arriving_while_the_engine_is_busy_run_as_one_batch_without_waiting():
    gate = threading.Event()
    recorder = Recorder(gate)
    batcher = Batcher("m", recorder, BatchingConfig(max_batch_size=8, max_wait_ms=0, queue_size=16))
    batcher.start()
    first = batcher.submit(numbered(0))
    assert recorder.entered.wait(5)
    cameras = [batcher.submit(numbered(i)) for i in range(1, 6)]  # triggered together, engine busy
    gate.set()
    assert [f.result(5).score for f in [first] + cameras] == list(range(6))
    assert recorder.batches == [1, 5]
    batcher.stop()


def test_callers_of_a_batch_that_come_back_together_are_batched_again():
    """After a batch of 4, the next request waits (at most max_wait_ms) for the other three to return."""
    gate = threading.Event()
    recorder = Recorder(gate)
    batcher = Batcher("m", recorder, BatchingConfig(max_batch_size=8, max_wait_ms=500, queue_size=16))
    batcher.start()
    first = batcher.submit(numbered(0))
    assert recorder.entered.wait(5)
    group = [batcher.submit(numbered(i)) for i in range(1, 5)]
    gate.set()
    assert [f.result(5).score for f in [first] + group] == list(range(5))
    again = []
    for i in range(4):  # the four cameras come back one after another, a little apart
        again.append(batcher.submit(numbered(10 + i)))
        time.sleep(0.01)
    assert [f.result(5).score for f in again] == [10, 11, 12, 13]
    assert recorder.batches == [1, 4, 4]
    batcher.stop()


def test_daemon_batches_eight_concurrent_callers(start_agent, lookout_client):
    pb2, _ = lookout_client
    agent = start_agent(batching={"max_batch_size": 8, "max_wait_ms": 5})
    agent.start_and_wait(pb2, "segment")
    image = frame(320, 240, (255, 0, 0))
    request = pb2.DetectAnomaliesRequest(
        model_component="segment", bitmap=pb2.Bitmap(width=320, height=240, byte_data=image.tobytes()))

    def caller(_):
        return [agent.stub.DetectAnomalies(request).detect_anomaly_result.is_anomalous for _ in range(10)]

    with ThreadPoolExecutor(8) as pool:
        results = [r for rs in pool.map(caller, range(8)) for r in rs]
    assert results == [True] * 80
    text, data = agent.metrics()
    stats = data["models"]["segment"]
    assert stats["requests"]["OK"] == 80
    assert stats["batch_size"]["max"] > 1 and stats["batches"] < 80, stats["batch_size"]
    assert 'edge_agent_batch_size_count{model="segment"}' in text
    assert 'edge_agent_requests_total{model="segment",code="OK"} 80' in text
