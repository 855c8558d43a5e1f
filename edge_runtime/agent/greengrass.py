"""Greengrass IPC, used only when the agent runs as a component under a nucleus.

The nucleus sets AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT and SVCUID for its components;
without them (or without awsiotsdk installed) the agent runs exactly the same, without IPC.
With them, the agent reports RUNNING via `update_state` once autostarted models are warm (a
`Startup` lifecycle step waits for that), and can publish each result (or only anomalies) to local
pub/sub or to IoT Core. Publishing happens on a background thread through a small bounded queue so
that inference never waits for IPC; when the queue is full, results are dropped and counted.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import threading
from typing import Any, Dict, Optional

from edge_runtime.agent.config import GreengrassConfig
from edge_runtime.runtime.postprocess import DetectionResult

log = logging.getLogger(__name__)

NUCLEUS_ENV = ("AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT", "SVCUID")
_STOP = object()


def nucleus_present(environ: Optional[Dict[str, str]] = None) -> bool:
    env = os.environ if environ is None else environ
    return all(env.get(k) for k in NUCLEUS_ENV)


def result_payload(model: str, result: DetectionResult) -> Dict[str, Any]:
    return {
        "model_component": model,
        "is_anomalous": result.is_anomalous,
        "confidence": result.confidence,
        "anomaly_score": result.anomaly_score,
        "anomaly_threshold": result.anomaly_threshold,
        "anomalies": [
            {"name": a.name, "total_percentage_area": a.fraction, "hex_color": a.hex_color} for a in result.anomalies
        ],
    }


class GreengrassIpc:
    """Reports state and publishes results through a GreengrassCoreIPCClientV2-like `client`.

    `model` is the module holding the IPC request types (awsiot.greengrasscoreipc.model); tests pass
    a fake client and a fake model namespace, since no nucleus can run here.
    """

    def __init__(self, client: Any, model: Any, config: GreengrassConfig, queue_size: int = 256) -> None:
        self.client = client
        self.model = model
        self.config = config
        self.dropped = 0
        self.published = 0
        self._queue: "queue.Queue[object]" = queue.Queue(maxsize=queue_size)
        self._thread: Optional[threading.Thread] = None

    @classmethod
    def from_environment(cls, config: GreengrassConfig) -> Optional["GreengrassIpc"]:
        """Connect when running under a nucleus; None (no IPC) otherwise."""
        if not nucleus_present():
            return None
        try:
            from awsiot.greengrasscoreipc import model
            from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2
        except ImportError:
            log.warning("running under Greengrass but awsiotsdk is not installed: no IPC (pip install awsiotsdk)")
            return None
        return cls(GreengrassCoreIPCClientV2(), model, config)

    def start(self) -> None:
        if self.config.publish_topic:
            self._thread = threading.Thread(target=self._run, name="greengrass-publish", daemon=True)
            self._thread.start()

    def report_running(self) -> None:
        self.client.update_state(state=self.model.ReportedLifecycleState.RUNNING)
        log.info("reported RUNNING to the Greengrass nucleus")

    def on_result(self, model_name: str, result: DetectionResult) -> None:
        """Queue a result for publishing (called on the request thread: never blocks)."""
        if not self.config.publish_topic or (self.config.anomalies_only and not result.is_anomalous):
            return
        try:
            self._queue.put_nowait(result_payload(model_name, result))
        except queue.Full:
            self.dropped += 1

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            assert isinstance(item, dict)
            try:
                self._publish(item)
                self.published += 1
            except Exception as exc:  # IPC trouble must not stop the agent
                log.warning("publishing to %s failed: %s", self.config.publish_topic, exc)

    def _publish(self, payload: Dict[str, Any]) -> None:
        topic = self.config.publish_topic
        if self.config.target == "iot_core":
            self.client.publish_to_iot_core(
                topic_name=topic, qos=self.model.QOS.AT_LEAST_ONCE, payload=json.dumps(payload).encode("utf-8")
            )
        else:
            message = self.model.PublishMessage(json_message=self.model.JsonMessage(message=payload))
            self.client.publish_to_topic(topic=topic, publish_message=message)

    def close(self, timeout: float = 5.0) -> None:
        if self._thread is not None:
            with contextlib.suppress(queue.Full):
                self._queue.put(_STOP, timeout=timeout)
            self._thread.join(timeout)
        close = getattr(self.client, "close", None)
        if close is not None:
            close()
