"""Dynamic batching for one model: concurrent DetectAnomalies calls share one predictor call.

A free worker takes the oldest request and whatever else is queued at that moment. It waits for
more only when more are expected: when the previous batch held several requests and ended less than
`max_wait_ms` ago (closed-loop callers, such as cameras triggered together, come straight back),
and then at most `max_wait_ms` counted from when the oldest request arrived. So a lone camera never
waits for company (its request runs at once on a free worker), while requests that arrive while
the engine is busy queue up and run together as soon as a worker is free. The queue is bounded:
when it is full, `submit` refuses with ResourceExhausted instead of growing without bound. A
request whose deadline passed in the queue fails with DeadlineExceeded; one its caller cancelled is
skipped. Outputs are checked one-to-one against inputs. The original agent ran one request at a
time per model.

With `workers` > 1 (a predictor with several instances, see runtime/cpu_predictor.py) that many
worker threads gather and run batches from the same queue, so one batch is gathered and preprocessed
while another is in the network.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np

from edge_runtime.agent.config import BatchingConfig
from edge_runtime.agent.metrics import ModelMetrics
from edge_runtime.errors import (
    DeadlineExceeded,
    EdgeRuntimeError,
    FailedPrecondition,
    InferenceError,
    ResourceExhausted,
)
from edge_runtime.runtime.types import Prediction

log = logging.getLogger(__name__)

PredictFn = Callable[[Sequence[np.ndarray]], List[Prediction]]


class _Request:
    __slots__ = ("frame", "future", "enqueued", "deadline")

    def __init__(self, frame: np.ndarray, deadline: Optional[float]) -> None:
        self.frame = frame
        self.future: "Future[Prediction]" = Future()
        self.enqueued = time.monotonic()
        self.deadline = deadline


_STOP = object()


class Batcher:
    """Bounded queue + worker thread around a predictor's `predict(frames)`."""

    def __init__(
        self,
        name: str,
        predict: PredictFn,
        config: BatchingConfig,
        metrics: Optional[ModelMetrics] = None,
        max_batch_size: Optional[int] = None,
        workers: int = 1,
    ) -> None:
        self.name = name
        self._predict = predict
        self.max_batch_size = min(config.max_batch_size, max_batch_size or config.max_batch_size)
        self.max_wait_s = config.max_wait_ms / 1000.0
        self.queue_size = config.queue_size
        self._metrics = metrics or ModelMetrics()
        self._queue: "queue.Queue[object]" = queue.Queue(maxsize=config.queue_size)
        self._stopping = threading.Event()
        self.workers = max(1, workers)
        self._threads: List[threading.Thread] = []
        self._last_size = 0  # requests in the last batch run, and when it ended: who is likely to come back
        self._last_end = 0.0

    def start(self) -> None:
        self._threads = [threading.Thread(target=self._run, name="batcher-%s-%d" % (self.name, i), daemon=True)
                         for i in range(self.workers)]
        for thread in self._threads:
            thread.start()

    def submit(self, frame: np.ndarray, deadline: Optional[float] = None) -> "Future[Prediction]":
        """Queue one RGB frame; `deadline` is on time.monotonic(). Never blocks."""
        if self._stopping.is_set() or not self._threads:
            raise FailedPrecondition("model %s is not running (it is stopping)" % self.name)
        request = _Request(frame, deadline)
        try:
            self._queue.put_nowait(request)
        except queue.Full:
            raise ResourceExhausted(
                "model %s has %d requests queued already (batching.queue_size); retry later"
                % (self.name, self.queue_size)
            ) from None
        return request.future

    def stop(self, timeout: Optional[float] = None) -> None:
        """Finish what is queued, then stop the workers. Requests arriving later are refused."""
        self._stopping.set()
        end = None if timeout is None else time.monotonic() + timeout
        # One _STOP per live worker. Any idle worker may take any _STOP, so count first and never
        # ask which thread a marker was "for"; spare markers are drained by _fail_leftovers.
        for _ in range(sum(t.is_alive() for t in self._threads)):
            while any(t.is_alive() for t in self._threads):
                try:
                    self._queue.put(_STOP, timeout=0.1)
                    break
                except queue.Full:
                    if end is not None and time.monotonic() > end:
                        break
        for thread in self._threads:
            thread.join(None if end is None else max(0.0, end - time.monotonic()))
        self._fail_leftovers()

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                break
            assert isinstance(first, _Request)
            batch, stop = self._collect(first)
            try:
                self._execute(batch)
            except Exception:  # never let the worker die: every later request would hang
                log.exception("batcher of %s: unexpected error", self.name)
                failed = InferenceError("batcher of %s failed" % self.name)
                self._fail([r for r in batch if not r.future.done()], failed)
            if stop:
                break
        # leftovers are failed by stop() once every worker is out: draining here could take
        # another worker's _STOP and leave it waiting forever

    def _collect(self, first: _Request) -> Tuple[List[_Request], bool]:
        """`first` plus what is queued now; plus, when more are expected, what arrives within the wait."""
        batch = [first]
        expected = min(self.max_batch_size, self._expected(first.enqueued))
        deadline = first.enqueued + self.max_wait_s
        while len(batch) < self.max_batch_size:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                remaining = deadline - time.monotonic()
                if len(batch) >= expected or remaining <= 0:
                    break
                try:
                    item = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
            if item is _STOP:
                return batch, True
            assert isinstance(item, _Request)
            batch.append(item)
        return batch, False

    def _expected(self, arrived: float) -> int:
        """How many requests to wait for: the last batch's size if it ended within max_wait of `arrived`."""
        if arrived - self._last_end <= self.max_wait_s:
            return max(1, self._last_size)
        return 1

    def _execute(self, batch: List[_Request]) -> None:
        now = time.monotonic()
        live = []
        for request in batch:
            if not request.future.set_running_or_notify_cancel():
                continue  # its caller gave up (the servicer cancels on its deadline): nothing to answer
            if request.deadline is not None and request.deadline <= now:
                request.future.set_exception(DeadlineExceeded("request to %s waited past its deadline in the queue"
                                                              % self.name))
            else:
                live.append(request)
        if not live:
            return
        started = time.monotonic()
        try:
            predictions = self._predict([r.frame for r in live])
            if len(predictions) != len(live):
                raise InferenceError(
                    "model %s returned %d results for a batch of %d frames" % (self.name, len(predictions), len(live))
                )
        except EdgeRuntimeError as exc:
            self._fail(live, exc)
        except Exception as exc:  # the model or runtime broke: report INTERNAL, keep serving
            log.exception("model %s failed on a batch of %d", self.name, len(live))
            self._fail(live, InferenceError("model %s failed: %s: %s" % (self.name, type(exc).__name__, exc)))
        else:
            for request, prediction in zip(live, predictions):
                request.future.set_result(prediction)
        finally:
            ended = time.monotonic()
            self._last_size, self._last_end = len(live), ended
            self._metrics.record_batch(len(live), ended - started, [started - r.enqueued for r in live])

    @staticmethod
    def _fail(requests: List[_Request], exc: Exception) -> None:
        for request in requests:
            request.future.set_exception(exc)

    def _fail_leftovers(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, _Request) and item.future.set_running_or_notify_cancel():
                item.future.set_exception(FailedPrecondition("model %s was stopped" % self.name))
