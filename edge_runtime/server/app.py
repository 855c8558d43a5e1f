"""The HTTP server: `create_server(config) -> (server, address)` and a blocking `serve(config)`.

stdlib ThreadingHTTPServer: one thread per connection, HTTP/1.1 keep-alive (what botocore's
connection pool expects). `create_server` opens the store and recovers interrupted work before it
returns, so the first request already sees a consistent state.
"""

from __future__ import annotations

import logging
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from edge_runtime.server.config import ServerConfig
from edge_runtime.server.context import ServerContext, build_context
from edge_runtime.server.dispatch import Dispatcher, HttpResponse
from edge_runtime.server.errors import ApiError, validation
from edge_runtime.server.model import load_service_model

log = logging.getLogger(__name__)


class ApiServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], context: ServerContext, dispatcher: Dispatcher) -> None:
        super().__init__(address, ApiRequestHandler)
        self.context = context
        self.dispatcher = dispatcher

    def server_close(self) -> None:
        super().server_close()
        from edge_runtime.server.operations import shutdown

        shutdown(self.context)
        self.context.store.close()


class ApiRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes: no 40 ms delayed-ACK stall
    server: ApiServer
    server_version = "edge-runtime-lookoutvision"

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._handle()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET

    def _handle(self) -> None:
        raw_path, _, raw_query = self.path.partition("?")
        try:
            body = self._read_body()
        except ApiError as exc:
            self._send(HttpResponse(exc.status(), exc.body(), exc.headers()), close=True)
            return
        headers: dict[str, list[str]] = {}
        for name, value in self.headers.items():
            headers.setdefault(name.lower(), []).append(value)
        response = self.server.dispatcher.handle(self.command, raw_path, raw_query, headers, body)
        self._send(response)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            raise validation("chunked request bodies are not supported; send Content-Length")
        length = int(self.headers.get("Content-Length") or 0)
        if length > self.server.context.config.max_body_bytes:
            raise validation("the request body is %d bytes; at most %d are accepted"
                             % (length, self.server.context.config.max_body_bytes))
        return self.rfile.read(length) if length else b""

    def _send(self, response: HttpResponse, close: bool = False) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's signature)
        log.debug("%s " + format, self.address_string(), *args)


def create_server(config: ServerConfig) -> tuple[ApiServer, tuple[str, int]]:
    """Bind, open the store, recover interrupted work; the caller runs `serve_forever()`."""
    from edge_runtime.server.operations import handlers, recover

    context = build_context(config)
    try:
        model = load_service_model()
        dispatcher = Dispatcher(context, model, handlers())
        recover(context)
        server = ApiServer((config.host, config.port), context, dispatcher)
    except BaseException:
        context.store.close()
        raise
    host, port = server.server_address[:2]
    return server, (str(host), int(port))


def serve(config: ServerConfig) -> int:
    """Run until SIGINT/SIGTERM; background work left unfinished is recovered at the next start."""
    server, (host, port) = create_server(config)
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("signal %d: stopping", signum)
        stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info("Lookout for Vision API on http://%s:%d (data %s, objects %s, auth %s)", host, port,
             config.storage.data_dir, "s3" if config.storage.s3 else config.storage.objects_dir,
             "on" if config.auth.enabled else "OFF (loopback only)")
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()
    return 0
