"""Model lifecycle as the Lookout Edge Agent defined it, for every package under the models root.

STOPPED/FAILED --StartModel--> STARTING --(background load + warm-up)--> RUNNING | FAILED
RUNNING --StopModel (synchronous: drains the queue)--> STOPPING --> STOPPED

Every transition happens under the model's own lock, so concurrent StartModel/StopModel calls see a
consistent state and get FAILED_PRECONDITION when it does not allow them. The models root is rescanned
on each listing (a directory listing: cheap), so packages appear and disappear without a restart;
a model that is running stays listed until stopped even if its folder went away.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from edge_runtime.agent import state
from edge_runtime.agent.batcher import Batcher
from edge_runtime.agent.config import MODEL_NAME, BatchingConfig, ModelsConfig
from edge_runtime.agent.memory import MemoryBudget, estimate_model_bytes
from edge_runtime.agent.metrics import AgentMetrics
from edge_runtime.errors import EdgeRuntimeError, FailedPrecondition, InvalidArgument, NotFound
from edge_runtime.modelpkg.manifest import MANIFEST_FILE, ModelManifest, package_arn, read_manifest
from edge_runtime.runtime.postprocess import palette_lut
from edge_runtime.runtime.types import Predictor

log = logging.getLogger(__name__)

STOPPED, STARTING, RUNNING, FAILED, STOPPING = "STOPPED", "STARTING", "RUNNING", "FAILED", "STOPPING"

# (package_dir, its manifest as StartModel read it or None) -> an unloaded predictor; the seam tests
# use to inject faults.
PredictorFactory = Callable[[str, Optional[ModelManifest]], Predictor]


@dataclass(frozen=True)
class ModelView:
    name: str
    status: str
    status_message: str = ""
    arn: str = ""


@dataclass(frozen=True)
class RunningModel:
    """What DetectAnomalies needs of a running model, swapped in and out as one reference."""

    name: str
    manifest: ModelManifest
    batcher: Batcher
    mask_lut: np.ndarray


class _Entry:
    def __init__(self, name: str) -> None:
        self.name = name
        self.lock = threading.Lock()
        self.status = STOPPED
        self.message = ""
        self.serving: Optional[RunningModel] = None
        self.predictor: Optional[Predictor] = None
        self.loader: Optional[threading.Thread] = None


def validate_model_name(name: str) -> None:
    if not MODEL_NAME.match(name or ""):
        raise InvalidArgument(
            "model_component must be 1-128 characters of [a-zA-Z0-9-_.], got %r" % (name[:200] if name else name)
        )


class ModelRegistry:
    """Owns every model's state, predictor and batcher."""

    def __init__(
        self,
        config: ModelsConfig,
        batching: BatchingConfig,
        metrics: Optional[AgentMetrics] = None,
        predictor_factory: Optional[PredictorFactory] = None,
    ) -> None:
        self.config = config
        self.batching = batching
        self.metrics = metrics or AgentMetrics()
        self.budget = MemoryBudget(config.memory_budget_mb)
        self._factory = predictor_factory or self._default_factory
        self._entries: Dict[str, _Entry] = {}
        self._lock = threading.Lock()

    # ---- discovery -------------------------------------------------------------------------
    def scan(self) -> Dict[str, str]:
        """Model name -> package folder, for every package folder under the models root now."""
        root = self.config.models_root
        try:
            names = os.listdir(root)
        except OSError as exc:
            raise EdgeRuntimeError("models root %s cannot be read: %s" % (root, exc)) from exc
        found = {}
        for name in names:
            path = os.path.join(root, name)
            is_package = os.path.isfile(os.path.join(path, MANIFEST_FILE))
            if MODEL_NAME.match(name) and not name.startswith(".") and is_package:
                found[name] = path
        return found

    def _entry(self, name: str) -> _Entry:
        with self._lock:
            entry = self._entries.get(name)
            if entry is None:
                entry = self._entries[name] = _Entry(name)
            return entry

    def _known(self, name: str) -> Tuple[Optional[str], Optional[_Entry]]:
        """(package folder or None, entry or None); NotFound when neither exists."""
        validate_model_name(name)
        folder = self.scan().get(name)
        entry = self._entries.get(name)
        if folder is None and (entry is None or entry.status == STOPPED):
            folder_path = os.path.join(self.config.models_root, name)
            raise NotFound("model %s is not deployed: no package folder %s" % (name, folder_path))
        return folder, entry

    # ---- queries ---------------------------------------------------------------------------
    def list_models(self) -> List[ModelView]:
        folders = self.scan()
        with self._lock:
            entries = dict(self._entries)
        names = set(folders) | {n for n, e in entries.items() if e.status != STOPPED}
        return [self._view(n, entries.get(n), folders.get(n)) for n in sorted(names)]

    def describe(self, name: str) -> ModelView:
        folder, entry = self._known(name)
        return self._view(name, entry, folder)

    @staticmethod
    def _view(name: str, entry: Optional[_Entry], folder: Optional[str]) -> ModelView:
        arn = package_arn(folder) if folder else ""
        if entry is None:
            return ModelView(name, STOPPED, "", arn)
        return ModelView(name, entry.status, entry.message, arn)

    def statuses(self) -> Dict[str, str]:
        with self._lock:
            return {n: e.status for n, e in self._entries.items() if e.status != STOPPED}

    def running(self, name: str) -> RunningModel:
        """The serving handle of a RUNNING model, else NotFound / FailedPrecondition / InvalidArgument."""
        entry = self._entries.get(name)
        serving = entry.serving if entry is not None else None
        if serving is not None:
            return serving
        _, entry = self._known(name)
        status = entry.status if entry is not None else STOPPED
        raise FailedPrecondition(
            "model %s is %s, expected RUNNING: call StartModel and wait until DescribeModel says RUNNING"
            % (name, status)
        )

    # ---- lifecycle -------------------------------------------------------------------------
    def start(self, name: str) -> str:
        folder, _ = self._known(name)
        if folder is None:
            raise NotFound("model %s is not deployed (its package folder is gone)" % name)
        entry = self._entry(name)
        with entry.lock:
            if entry.status not in (STOPPED, FAILED):
                raise FailedPrecondition("model %s is %s; StartModel needs STOPPED or FAILED" % (name, entry.status))
            manifest = _try_manifest(folder)
            self.budget.reserve(name, estimate_model_bytes(folder, manifest, self.batching.max_batch_size,
                                                           self.config.instances))
            entry.status, entry.message = STARTING, "loading and warming up"
            entry.loader = threading.Thread(target=self._load, args=(entry, folder, manifest), name="load-%s" % name,
                                            daemon=True)
            entry.loader.start()
        self._save_state()
        return STARTING

    def _load(self, entry: _Entry, folder: str, manifest: Optional[ModelManifest]) -> None:
        predictor = None
        try:
            predictor = self._factory(folder, manifest)
            predictor.load()
            predictor.warmup()
            batcher = Batcher(entry.name, predictor.predict, self.batching, self.metrics.model(entry.name),
                              predictor.max_batch_size, workers=predictor.instances)
            batcher.start()
        except Exception as exc:  # any failure to load is the model's FAILED state, with the reason
            log.warning("model %s failed to start: %s", entry.name, exc, exc_info=not isinstance(exc, EdgeRuntimeError))
            if predictor is not None:
                _close_quietly(predictor)
            with entry.lock:
                entry.status, entry.message = FAILED, "failed to start: %s" % exc
            self.budget.release(entry.name)
            self._save_state()
            return
        message = "RUNNING on %s" % predictor.backend
        if predictor.backend_reason:
            message += " (%s)" % predictor.backend_reason
        counter = predictor.copy_counter
        self.metrics.model(entry.name).set_backend(predictor.backend, predictor.backend_note,
                                                   counter.snapshot if counter is not None else None)
        manifest = predictor.manifest
        with entry.lock:
            entry.predictor = predictor
            entry.serving = RunningModel(entry.name, manifest, batcher, palette_lut(manifest.classes))
            entry.status, entry.message = RUNNING, message
        log.info("model %s: %s", entry.name, message)

    def stop(self, name: str) -> str:
        _, entry = self._known(name)
        if entry is None:
            raise FailedPrecondition("model %s is STOPPED; StopModel needs RUNNING" % name)
        with entry.lock:
            if entry.status != RUNNING:
                raise FailedPrecondition("model %s is %s; StopModel needs RUNNING" % (name, entry.status))
            entry.status, entry.message = STOPPING, "draining queued requests"
            serving, predictor = entry.serving, entry.predictor
            entry.serving, entry.predictor = None, None
        self._unload(serving, predictor)
        with entry.lock:
            entry.status, entry.message = STOPPED, ""
        self.budget.release(name)
        self._save_state()
        return STOPPED

    @staticmethod
    def _unload(serving: Optional[RunningModel], predictor: Optional[Predictor]) -> None:
        if serving is not None:
            serving.batcher.stop()
        if predictor is not None:
            _close_quietly(predictor)

    # ---- restart survival ------------------------------------------------------------------
    def _save_state(self) -> None:
        with self._lock:
            names = [n for n, e in self._entries.items() if e.status in (STARTING, RUNNING)]
        state.write_running(self.config.state_path, names)

    def restore(self) -> List[str]:
        """Start the models that were running before (models.autostart); returns those started."""
        if not self.config.autostart:
            return []
        started = []
        for name in state.read_running(self.config.state_path):
            try:
                self.start(name)
                started.append(name)
            except EdgeRuntimeError as exc:
                log.warning("not restarting model %s: %s", name, exc)
        return started

    def wait_until_settled(self, timeout: Optional[float] = None) -> bool:
        """Wait for every STARTING model to reach RUNNING or FAILED; False on timeout."""
        with self._lock:
            loaders = [e.loader for e in self._entries.values() if e.loader is not None]
        for thread in loaders:
            thread.join(timeout)
        return not any(t.is_alive() for t in loaders)

    def shutdown(self, timeout: Optional[float] = None) -> None:
        """Drain and close every model, leaving the state file saying what to restart."""
        self.wait_until_settled(timeout)
        with self._lock:
            entries = list(self._entries.values())
        for entry in entries:
            with entry.lock:
                serving, predictor = entry.serving, entry.predictor
                entry.serving, entry.predictor = None, None
                if entry.status == RUNNING:
                    entry.status = STOPPING
            self._unload(serving, predictor)

    # ---- default loading -------------------------------------------------------------------
    def _default_factory(self, folder: str, manifest: Optional[ModelManifest]) -> Predictor:
        from edge_runtime.runtime.factory import PredictorOptions, create_predictor
        from edge_runtime.runtime.loader import load_package

        package = load_package(folder, manifest)
        options = PredictorOptions(
            max_batch_size=self.batching.max_batch_size,
            intra_op_threads=self.config.intra_op_threads,
            prefer_gpu=self.config.prefer_gpu,
            instances=self.config.instances,
            cpu_engine=self.config.cpu_engine,
            choice_cache=os.path.join(os.path.dirname(self.config.state_path) or ".",
                                      ".edge-agent-engine-choice.json"),
        )
        return create_predictor(package, options)


def _try_manifest(folder: str) -> Optional[ModelManifest]:
    try:
        return read_manifest(folder)
    except EdgeRuntimeError:
        return None  # the background load reports the problem as FAILED


def _close_quietly(predictor: Predictor) -> None:
    try:
        predictor.close()
    except Exception:  # closing must not hide the reason we are closing
        log.exception("closing a predictor failed")
