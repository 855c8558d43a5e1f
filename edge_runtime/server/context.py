"""What every operation gets: configuration, store, objects, ARNs, tokens and background workers."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from edge_runtime.server.arns import ArnScope
from edge_runtime.server.config import ServerConfig
from edge_runtime.server.objects import LocalObjects, ObjectStore, S3Objects
from edge_runtime.server.pagination import TokenCodec
from edge_runtime.server.store import Store

log = logging.getLogger(__name__)


class Background:
    """Daemon threads for long work (dataset import, training, hosting) so a stop never waits for them.

    Training is limited to `training_slots` at a time; the rest queue on the semaphore. Interrupted
    work is recovered from the store's statuses at the next start-up.
    """

    def __init__(self, training_slots: int = 1) -> None:
        self._training = threading.BoundedSemaphore(training_slots)
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def spawn(self, name: str, work: Callable[[], None], training: bool = False) -> threading.Thread:
        def run() -> None:
            try:
                if training:
                    with self._training:
                        work()
                else:
                    work()
            except Exception:  # the work records its own failure; this is the last resort
                log.exception("background task %s failed", name)

        thread = threading.Thread(target=run, name=name, daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return thread

    def join(self, timeout: float | None = None) -> None:
        """Wait for running work (tests and orderly shutdown)."""
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)


@dataclass
class ServerContext:
    config: ServerConfig
    store: Store
    objects: ObjectStore
    tokens: TokenCodec
    background: Background
    services: dict[str, Any] = field(default_factory=dict)  # hosting registry etc., added by operations

    @property
    def arns(self) -> ArnScope:
        return self.config.arns


def build_context(config: ServerConfig) -> ServerContext:
    store = Store(config.storage.database).open()
    objects: ObjectStore
    if config.storage.s3:
        objects = S3Objects(config.storage.s3_endpoint_url, config.arns.region)
    else:
        objects = LocalObjects(config.storage.objects_dir)
    secret = store.meta("token_secret") or ""
    return ServerContext(config=config, store=store, objects=objects, tokens=TokenCodec(secret),
                         background=Background(config.training.max_concurrent))
