"""The HTTP server: `create_server(config) -> (server, address)` and a blocking `serve(config)`.

stdlib ThreadingHTTPServer: one thread per connection, HTTP/1.1 keep-alive (what botocore's
connection pool expects). `create_server` opens the store and recovers interrupted work before it
returns, so the first request already sees a consistent state.

Before anything is authenticated: Content-Length must be a plain non-negative integer (else 400) and
at most `max_body_bytes` (else 413, the body unread); a connection idle for `idle_timeout_s` (or one
sending its request that slowly) is closed; at most `max_connections` connections are served at once,
one more gets 503 and is closed, so unauthenticated clients cannot take memory or threads without bound.
"""

from __future__ import annotations

import logging
import signal
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Mapping, Protocol

from edge_runtime.server.config import ServerConfig
from edge_runtime.server.context import ServerContext, build_context
from edge_runtime.server.dispatch import Dispatcher, HttpResponse
from edge_runtime.server.errors import ApiError, validation
from edge_runtime.server.model import load_service_model

log = logging.getLogger(__name__)


class PathHandler(Protocol):
    """What serves a mounted path prefix (the console) instead of the REST dispatcher."""

    def handle(self, method: str, raw_path: str, raw_query: str, headers: dict[str, list[str]],
               body: bytes) -> HttpResponse: ...

    def banner(self, base_url: str) -> str:
        """A line for the start-up log (where to open it)."""


# prefix ("/console") -> factory(context, dispatcher): the server knows no mounted module by name.
Mounts = Mapping[str, Callable[[ServerContext, Dispatcher], PathHandler]]


class ApiServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], context: ServerContext, dispatcher: Dispatcher,
                 mounts: dict[str, PathHandler] | None = None) -> None:
        super().__init__(address, ApiRequestHandler)
        self.context = context
        self.dispatcher = dispatcher
        self.mounts = dict(mounts or {})
        self._slots = threading.BoundedSemaphore(context.config.max_connections)

    def process_request(self, request: Any, client_address: Any) -> None:
        """One thread per connection, up to max_connections; past that a 503 and close, no thread."""
        if not self._slots.acquire(blocking=False):
            _refuse_busy(request)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            # the client went away mid-answer: browsers do this to every image a page leaves behind
            log.debug("connection from %s closed by the client", client_address[0])
            return
        log.warning("connection from %s ended with an error", client_address[0], exc_info=True)

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

    def setup(self) -> None:
        self.request.settimeout(self.server.context.config.idle_timeout_s)  # for every read and write
        super().setup()

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
        except OSError:  # timed out or reset while the body was arriving
            self.close_connection = True
            return
        headers: dict[str, list[str]] = {}
        for name, value in self.headers.items():
            headers.setdefault(name.lower(), []).append(value)
        handler = self._mounted(raw_path) or self.server.dispatcher
        response = handler.handle(self.command, raw_path, raw_query, headers, body)
        self._send(response)

    def _mounted(self, raw_path: str) -> PathHandler | None:
        for prefix, handler in self.server.mounts.items():
            if raw_path == prefix or raw_path.startswith(prefix + "/"):
                return handler
        return None

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            raise validation("chunked request bodies are not supported; send Content-Length")
        declared = self.headers.get_all("Content-Length") or []
        if len(set(declared)) > 1:
            raise validation("the request has %d different Content-Length headers" % len(set(declared)))
        text = declared[0].strip() if declared else "0"
        if not (text.isascii() and text.isdigit()) or len(text) > 18:
            raise validation("Content-Length must be a non-negative integer, got %r" % text[:40])
        length = int(text)
        limit = self.server.context.config.max_body_bytes
        if length > limit:
            raise ApiError("RequestEntityTooLarge", "the request body is %d bytes; at most %d are accepted"
                           % (length, limit))
        body = self.rfile.read(length) if length else b""
        if len(body) != length:
            raise validation("the request body ended after %d of %d bytes" % (len(body), length))
        return body

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


def _refuse_busy(request: socket.socket) -> None:
    body = b'{"message": "the server is serving its connection limit; retry shortly"}'
    head = ("HTTP/1.1 503 Service Unavailable\r\nx-amzn-ErrorType: ThrottlingException\r\nRetry-After: 1\r\n"
            "Content-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body))
    try:
        request.settimeout(1.0)
        request.sendall(head.encode("ascii") + body)
    except OSError:
        pass


def create_server(config: ServerConfig, mounts: Mounts | None = None) -> tuple[ApiServer, tuple[str, int]]:
    """Bind, open the store, recover interrupted work; the caller runs `serve_forever()`.

    `mounts` adds path prefixes served by other handlers over the same context (the web console)."""
    from edge_runtime.server.operations import handlers, recover

    context = build_context(config)
    try:
        model = load_service_model()
        dispatcher = Dispatcher(context, model, handlers())
        recover(context)
        handlers_by_prefix = {prefix: make(context, dispatcher) for prefix, make in (mounts or {}).items()}
        server = ApiServer((config.host, config.port), context, dispatcher, handlers_by_prefix)
    except BaseException:
        context.store.close()
        raise
    host, port = server.server_address[:2]
    return server, (str(host), int(port))


def serve(config: ServerConfig, mounts: Mounts | None = None) -> int:
    """Run until SIGINT/SIGTERM; background work left unfinished is recovered at the next start."""
    server, (host, port) = create_server(config, mounts)
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
    for prefix, handler in server.mounts.items():
        log.info("%s", handler.banner("http://%s:%d%s" % (host, port, prefix)))
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()
    return 0
