"""Agent configuration: one small frozen dataclass per concern, validated on creation.

Files (YAML or JSON, same keys) are read only at the CLI edge by `load_config`:

    server:     {socket: unix:///tmp/aws.iot.lookoutvision.EdgeAgent.sock, socket_group: ggc_group,
                 socket_mode: "0660", tcp_address: 0.0.0.0:8443, tls_cert: ..., tls_key: ...,
                 tls_client_ca: ..., grace_period_s: 10, max_message_mb: 64, max_workers: 32,
                 metrics_port: 0, max_connections: 256}
    batching:   {max_batch_size: 8, max_wait_ms: 2, queue_size: 64}
    models:     {models_root: /var/lib/edge-runtime/models, state_file: "", autostart: true,
                 memory_budget_mb: 0, intra_op_threads: 0, instances: 1, prefer_gpu: true,
                 cpu_engine: auto}
    greengrass: {publish_topic: "", anomalies_only: false, target: local}
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field, fields, replace
from typing import Any, Dict, Optional

from edge_runtime.errors import InvalidArgument

DEFAULT_SOCKET = "unix:///tmp/aws.iot.lookoutvision.EdgeAgent.sock"
DEFAULT_MODELS_ROOT = "/var/lib/edge-runtime/models"
STATE_FILE_NAME = ".edge-agent-state.json"
MODEL_NAME = re.compile(r"^[a-zA-Z0-9_.-]{1,128}$")
GREENGRASS_TARGETS = ("local", "iot_core")


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise InvalidArgument("agent config: " + message)


@dataclass(frozen=True)
class ServerConfig:
    """Where and how the gRPC server listens."""

    socket: str = DEFAULT_SOCKET  # "unix:///path" or a bare path; "" disables the Unix socket
    socket_group: str = ""  # chgrp the socket to this group after binding ("" = leave it)
    socket_mode: int = 0o660  # chmod after binding, so line software needs no manual chmod
    tcp_address: str = ""  # "host:port" (port 0 = pick one); TLS is required on TCP
    tls_cert: str = ""
    tls_key: str = ""
    tls_client_ca: str = ""  # set: clients must present a certificate signed by it (mutual TLS)
    grace_period_s: float = 10.0  # SIGTERM: in-flight requests get this long to finish
    max_message_mb: int = 64  # 4096 x 4096 RGB is 48 MiB; larger messages get RESOURCE_EXHAUSTED
    max_workers: int = 32  # gRPC handler threads; each waits for its batch, so keep > clients
    metrics_port: int = 0  # >0: also serve Prometheus text at http://127.0.0.1:<port>/metrics
    max_connections: int = 256  # open client connections on the Unix socket (two relay threads each)

    def __post_init__(self) -> None:
        _check(bool(self.socket or self.tcp_address), "need server.socket or server.tcp_address")
        _check(0 <= self.socket_mode <= 0o777, "server.socket_mode must be an octal mode like 0660")
        if self.tcp_address:
            _check(":" in self.tcp_address, "server.tcp_address must be host:port, got %r" % self.tcp_address)
            _check(bool(self.tls_cert and self.tls_key), "server.tcp_address needs server.tls_cert and tls_key")
        _check(not self.tls_client_ca or bool(self.tls_cert), "server.tls_client_ca needs tls_cert and tls_key")
        _check(self.grace_period_s >= 0, "server.grace_period_s must be >= 0")
        _check(1 <= self.max_message_mb <= 2047, "server.max_message_mb must be 1..2047")
        _check(2 <= self.max_workers <= 1024, "server.max_workers must be 2..1024")
        _check(0 <= self.metrics_port <= 65535, "server.metrics_port must be 0..65535")
        _check(1 <= self.max_connections <= 4096, "server.max_connections must be 1..4096")

    @property
    def socket_path(self) -> str:
        return self.socket[len("unix://") :] if self.socket.startswith("unix://") else self.socket

    @property
    def max_message_bytes(self) -> int:
        return self.max_message_mb * 1024 * 1024


@dataclass(frozen=True)
class BatchingConfig:
    """Dynamic batching per model: concurrent requests share one predictor call."""

    max_batch_size: int = 8
    max_wait_ms: float = 2.0  # how long the first request of a batch may wait for company
    queue_size: int = 64  # requests waiting per model; more get RESOURCE_EXHAUSTED

    def __post_init__(self) -> None:
        _check(1 <= self.max_batch_size <= 256, "batching.max_batch_size must be 1..256")
        _check(0 <= self.max_wait_ms <= 1000, "batching.max_wait_ms must be 0..1000")
        _check(1 <= self.queue_size <= 100000, "batching.queue_size must be 1..100000")


@dataclass(frozen=True)
class ModelsConfig:
    """Where model packages live and how many may run."""

    models_root: str = DEFAULT_MODELS_ROOT  # one folder per model component
    state_file: str = ""  # "" = <models_root>/.edge-agent-state.json
    autostart: bool = True  # start the models that were running before a restart
    memory_budget_mb: int = 0  # 0 = 80% of physical memory
    intra_op_threads: int = 0  # CPU engine threads per instance (0 = the CPUs split among instances)
    # CPU path: engine instances per model running batches side by side (ONNX Runtime sessions, or
    # OpenVINO streams on one compiled model). 1 gives a lone request every core (lowest latency);
    # 2 on a small CPU gives more frames per second under load.
    instances: int = 1
    prefer_gpu: bool = True
    # auto: OpenVINO for compiled builds that carry its model when `openvino` is installed, else
    # ONNX Runtime; openvino: OpenVINO or fail to start; onnxruntime: always ONNX Runtime.
    cpu_engine: str = "auto"

    def __post_init__(self) -> None:
        _check(bool(self.models_root), "models.models_root must be set")
        _check(self.memory_budget_mb >= 0, "models.memory_budget_mb must be >= 0")
        _check(self.intra_op_threads >= 0, "models.intra_op_threads must be >= 0")
        _check(1 <= self.instances <= 16, "models.instances must be 1..16")
        _check(self.cpu_engine in ("auto", "openvino", "onnxruntime"),
               "models.cpu_engine must be auto, openvino or onnxruntime, got %r" % (self.cpu_engine,))

    @property
    def state_path(self) -> str:
        return self.state_file or os.path.join(self.models_root, STATE_FILE_NAME)


@dataclass(frozen=True)
class GreengrassConfig:
    """What the agent does over Greengrass IPC when it runs as a component."""

    publish_topic: str = ""  # "" = publish nothing
    anomalies_only: bool = False
    target: str = "local"  # "local" pub/sub or "iot_core"

    def __post_init__(self) -> None:
        _check(self.target in GREENGRASS_TARGETS, "greengrass.target must be local or iot_core, got %r" % self.target)


@dataclass(frozen=True)
class AgentConfig:
    server: ServerConfig = field(default_factory=ServerConfig)
    batching: BatchingConfig = field(default_factory=BatchingConfig)
    models: ModelsConfig = field(default_factory=ModelsConfig)
    greengrass: GreengrassConfig = field(default_factory=GreengrassConfig)


_SECTIONS = {"server": ServerConfig, "batching": BatchingConfig, "models": ModelsConfig, "greengrass": GreengrassConfig}


def _section(cls: Any, name: str, data: Any) -> Any:
    _check(isinstance(data, dict), "section %r must be a mapping, got %s" % (name, type(data).__name__))
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    _check(not unknown, "unknown key(s) %s in %r; expected some of %s" % (unknown, name, sorted(known)))
    values = dict(data)
    if isinstance(values.get("socket_mode"), str):
        try:
            values["socket_mode"] = int(values["socket_mode"], 8)
        except ValueError:
            message = "agent config: server.socket_mode must be octal, got %r" % data["socket_mode"]
            raise InvalidArgument(message) from None
    try:
        return cls(**values)
    except TypeError as exc:
        raise InvalidArgument("agent config: section %r: %s" % (name, exc)) from exc


def config_from_dict(data: Dict[str, Any]) -> AgentConfig:
    _check(isinstance(data, dict), "top level must be a mapping")
    unknown = sorted(set(data) - set(_SECTIONS))
    _check(not unknown, "unknown section(s) %s; expected some of %s" % (unknown, sorted(_SECTIONS)))
    parts = {name: _section(cls, name, data.get(name) or {}) for name, cls in _SECTIONS.items()}
    return AgentConfig(**parts)


def load_config(path: Optional[str]) -> AgentConfig:
    """Read a YAML or JSON config file; None gives the defaults."""
    if not path:
        return AgentConfig()
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise InvalidArgument("agent config %s cannot be read: %s" % (path, exc)) from exc
    return config_from_dict(_parse(path, text))


def _parse(path: str, text: str) -> Any:
    """JSON or YAML text -> data; a syntax error is one line naming the file, line and column."""
    if path.endswith(".json"):
        try:
            return json.loads(text or "{}")
        except ValueError as exc:
            raise InvalidArgument("agent config %s is not valid JSON: %s" % (path, exc)) from None
    import yaml

    try:
        return yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = " at line %d column %d" % (mark.line + 1, mark.column + 1) if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InvalidArgument("agent config %s is not valid YAML%s: %s" % (path, where, problem)) from None


def with_overrides(config: AgentConfig, socket: Optional[str] = None, models_root: Optional[str] = None) -> AgentConfig:
    """Apply the CLI flags on top of a file's settings."""
    if socket:
        config = replace(config, server=replace(config.server, socket=socket))
    if models_root:
        config = replace(config, models=replace(config.models, models_root=models_root))
    return config
