"""Build the gRPC server (`create_server`) and run it as a daemon (`serve`).

`create_server(config)` binds and returns `(server, address)` without starting anything, so tests
and embedders control the lifecycle. `serve(config)` is the daemon: start, fix the socket's group
and mode, restore the models that were running, flip the health service to SERVING once they are
warm, report RUNNING to Greengrass, then on SIGTERM/SIGINT stop taking calls and let in-flight
ones finish within `server.grace_period_s` before unloading the models.
"""

from __future__ import annotations

import grp
import logging
import os
import signal
import threading
from concurrent import futures
from typing import Any, List, Optional, Tuple

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from edge_runtime.agent.config import AgentConfig, ServerConfig
from edge_runtime.agent.greengrass import GreengrassIpc
from edge_runtime.agent.metrics import AgentMetrics
from edge_runtime.agent.proto import agent_admin_pb2_grpc
from edge_runtime.agent.registry import ModelRegistry
from edge_runtime.agent.segments import Caller
from edge_runtime.agent.servicer import AgentAdminServicer, EdgeAgentServicer, lenient_handlers
from edge_runtime.agent.unix_listener import UnixListener
from edge_runtime.errors import InvalidArgument

log = logging.getLogger(__name__)

SERVICE_NAMES = ("", "AWS.LookoutVision.EdgeAgent", "edgeruntime.AgentAdmin")


class AgentServices:
    """Everything behind the server: registry, metrics, the Unix socket listener, health, optional IPC."""

    def __init__(
        self,
        config: AgentConfig,
        registry: Optional[ModelRegistry] = None,
        metrics: Optional[AgentMetrics] = None,
        ipc: Optional[GreengrassIpc] = None,
    ) -> None:
        self.config = config
        self.metrics = metrics or (registry.metrics if registry is not None else AgentMetrics())
        self.registry = registry or ModelRegistry(config.models, config.batching, self.metrics)
        self.listener: Optional[UnixListener] = None
        self.health = health.HealthServicer()
        self.ipc = ipc
        self.addresses: List[str] = []
        self.set_serving(False)

    def set_serving(self, serving: bool) -> None:
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in SERVICE_NAMES:
            self.health.set(name, status)

    def caller(self, peer: str) -> Optional[Caller]:
        return self.listener.caller(peer) if self.listener is not None else None

    def close(self, timeout: Optional[float] = None) -> None:
        if self.listener is not None:
            self.listener.close()
            self.listener = None
        self.registry.shutdown(timeout)
        if self.ipc is not None:
            self.ipc.close()


def create_server(config: AgentConfig, services: Optional[AgentServices] = None) -> Tuple[grpc.Server, str]:
    """A bound, not yet started server; `address` is the Unix socket (or the TCP address if none)."""
    services = services or AgentServices(config)
    cfg = config.server
    options = [
        ("grpc.max_receive_message_length", cfg.max_message_bytes),
        ("grpc.max_send_message_length", cfg.max_message_bytes),
        ("grpc.so_reuseport", 0),
    ]
    executor = futures.ThreadPoolExecutor(max_workers=cfg.max_workers, thread_name_prefix="edge-agent-rpc")
    server = grpc.server(executor, options=options)
    on_result = services.ipc.on_result if services.ipc is not None else None
    servicer = EdgeAgentServicer(services.registry, services.metrics, services.caller, on_result)
    server.add_generic_rpc_handlers((lenient_handlers(servicer),))
    admin = AgentAdminServicer(services.registry, services.metrics)
    agent_admin_pb2_grpc.add_AgentAdminServicer_to_server(admin, server)
    health_pb2_grpc.add_HealthServicer_to_server(services.health, server)
    if cfg.socket:
        services.addresses.append(_bind_unix(server, cfg, services))
    if cfg.tcp_address:
        services.addresses.append(_bind_tls(server, cfg))
    return server, services.addresses[0]


def _bind_unix(server: grpc.Server, cfg: ServerConfig, services: AgentServices) -> str:
    """gRPC on a private socket, the public one taken (under its lock) by a relaying UnixListener."""
    listener = UnixListener(cfg.socket_path, max_connections=cfg.max_connections)
    if server.add_insecure_port(listener.grpc_address) == 0:
        listener.close()
        raise InvalidArgument("cannot listen on %s" % listener.grpc_address)
    try:
        listener.bind()
    except BaseException:
        listener.close()
        raise
    services.listener = listener
    return "unix://" + listener.path


def _bind_tls(server: grpc.Server, cfg: ServerConfig) -> str:
    def read(path: str) -> bytes:
        try:
            with open(path, "rb") as fh:
                return fh.read()
        except OSError as exc:
            raise InvalidArgument("TLS file %s cannot be read: %s" % (path, exc)) from exc

    ca = read(cfg.tls_client_ca) if cfg.tls_client_ca else None
    credentials = grpc.ssl_server_credentials(
        [(read(cfg.tls_key), read(cfg.tls_cert))], root_certificates=ca, require_client_auth=ca is not None
    )
    port = server.add_secure_port(cfg.tcp_address, credentials)
    if port == 0:
        raise InvalidArgument("cannot listen on %s" % cfg.tcp_address)
    return "%s:%d" % (cfg.tcp_address.rsplit(":", 1)[0], port)


def secure_socket(cfg: ServerConfig) -> None:
    """chgrp/chmod the Unix socket after binding, so line software in that group can connect."""
    if not cfg.socket:
        return
    path = os.path.abspath(cfg.socket_path)
    if cfg.socket_group:
        try:
            gid = grp.getgrnam(cfg.socket_group).gr_gid
        except KeyError:
            raise InvalidArgument("server.socket_group %r is not a group on this machine" % cfg.socket_group) from None
        os.chown(path, -1, gid)
    os.chmod(path, cfg.socket_mode)


def start_server(config: AgentConfig, services: AgentServices) -> Tuple[grpc.Server, str]:
    """create_server + start + socket permissions: what serve() and in-process tests both do."""
    server, address = create_server(config, services)
    server.start()
    secure_socket(config.server)
    return server, address


def serve(config: AgentConfig, services: Optional[AgentServices] = None, stop: Optional[threading.Event] = None) -> int:
    """Run the daemon until SIGTERM/SIGINT (or `stop` is set); returns an exit code."""
    services = services or AgentServices(config, ipc=GreengrassIpc.from_environment(config.greengrass))
    stop = stop or threading.Event()
    _install_signal_handlers(stop)
    try:
        os.makedirs(config.models.models_root, exist_ok=True)
    except OSError as exc:
        raise InvalidArgument("models root %s cannot be created: %s (use --models-root)" % (
            config.models.models_root, exc)) from exc
    server, _ = start_server(config, services)
    http = _start_metrics_http(config, services)
    log.info("edge agent listening on %s (models root %s)", ", ".join(services.addresses), config.models.models_root)
    restored = services.registry.restore()
    services.registry.wait_until_settled()
    services.set_serving(True)
    log.info("ready: %d model(s) restored: %s", len(restored), ", ".join(restored) or "-")
    if services.ipc is not None:
        services.ipc.start()
        services.ipc.report_running()
    while not stop.wait(0.5):  # a timed wait keeps the main thread responsive to signals
        pass
    log.info("stopping: draining in-flight requests for up to %.1f s", config.server.grace_period_s)
    services.set_serving(False)
    server.stop(config.server.grace_period_s).wait()
    if http is not None:
        http.stop()
    services.close(timeout=config.server.grace_period_s)  # unlinks the socket if it is still ours
    log.info("stopped")
    return 0


def _start_metrics_http(config: AgentConfig, services: AgentServices) -> Any:
    if not config.server.metrics_port:
        return None
    from edge_runtime.agent.metrics_http import MetricsHttpServer

    def render() -> str:
        return services.metrics.prometheus_text(services.registry.statuses())

    http = MetricsHttpServer(config.server.metrics_port, render)
    log.info("metrics on http://127.0.0.1:%d/metrics", http.start())
    return http


def _install_signal_handlers(stop: threading.Event) -> None:
    if threading.current_thread() is not threading.main_thread():
        return  # embedded in a test or another program: the caller sets `stop`

    def handler(signum: int, frame: Any) -> None:
        log.info("received signal %d", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
