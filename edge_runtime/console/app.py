"""The console's request pipeline: static files, sign-in check, CSRF check, routing, error pages.

Routes come from the page modules (each exposes ROUTES: (method, pattern, handler)); a handler takes
(console, request, **path groups) and returns an HttpResponse. A ConsoleError from a form post goes
back to the page it came from as a message; from a JSON call it is {"error": message}.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
from typing import Any, Callable
from urllib.parse import parse_qs, unquote

from edge_runtime.console.http import (
    PREFIX,
    ConsoleError,
    HttpResponse,
    Request,
    data,
    html,
    json_response,
    redirect,
    url,
)
from edge_runtime.console.layout import page
from edge_runtime.console.operations import Operations
from edge_runtime.console.sessions import COOKIE, Sessions, cookie_header, csrf_ok
from edge_runtime.console.state import ConsoleState

log = logging.getLogger(__name__)
PAGES = ("signin", "projects", "datasets", "labelling", "models", "evaluation", "overlays", "trial", "packaging",
         "files")
STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".png": "image/png"}
Handler = Callable[..., HttpResponse]
PUBLIC = ("/signin",)


class Console:
    def __init__(self, context: Any, dispatcher: Any, bucket: str) -> None:
        self.context = context
        self.ops = Operations(dispatcher)
        auth = context.config.auth
        self.sessions = Sessions(auth.access_keys, auth.enabled)
        self.state = ConsoleState(context.store)
        self.bucket = bucket
        self.services: dict[str, Any] = {}  # caches of page modules (loaded models for overlays)
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        for name in PAGES:
            module = importlib.import_module("edge_runtime.console." + name)
            for method, pattern, handler in module.ROUTES:
                self._routes.append((method, re.compile("^" + pattern + "$"), handler))

    def handle(self, method: str, raw_path: str, raw_query: str, headers: dict[str, list[str]],
               body: bytes) -> HttpResponse:
        path = unquote(raw_path[len(PREFIX):]) or "/"
        request = Request(method.upper(), path, parse_qs(raw_query, keep_blank_values=True), headers, body)
        request.console = self
        try:
            if path.startswith("/static/"):
                return _static(path[len("/static/"):])
            response = self._route(request)
        except ConsoleError as exc:
            response = self._refusal(request, exc)
        except Exception:  # never a traceback to the browser; the log has it
            log.exception("console %s %s failed", method, path)
            response = self._refusal(request, ConsoleError("the console failed while handling this request; "
                                                           "the server log has the details", 500))
        if request.set_cookie:
            response.headers["Set-Cookie"] = request.set_cookie
        return response

    def banner(self, base_url: str) -> str:
        if not self.sessions.enabled:
            return "web console on %s/ (no sign-in: --no-auth)" % base_url
        return ("web console on %s/ (sign in with an access key pair, or once within 10 minutes with "
                "%s/signin?token=%s)" % (base_url, base_url, self.sessions.signin_link_token()))

    def _route(self, request: Request) -> HttpResponse:
        request.session = self._session(request)
        if request.session is None and request.path not in PUBLIC:
            if request.method == "GET" and not _wants_json(request):
                return redirect(url("/signin", next=PREFIX + request.path))
            raise ConsoleError("sign in first", 401)
        if request.method not in ("GET", "HEAD") and request.path not in PUBLIC:
            supplied = request.header("x-csrf-token") or request.field("_csrf")
            if not csrf_ok(request.session, supplied):
                raise ConsoleError("the form is out of date (missing or wrong CSRF token); reload the page", 403)
        allowed = False
        for method, pattern, handler in self._routes:
            match = pattern.match(request.path)
            if match is None:
                continue
            allowed = True
            if method == request.method or (method == "GET" and request.method == "HEAD"):
                return handler(self, request, **match.groupdict())
        raise ConsoleError("method not allowed" if allowed else "no such page: %s" % request.path,
                           405 if allowed else 404)

    def _session(self, request: Request) -> Any:
        session = self.sessions.find(request.cookies().get(COOKIE))
        if session is None and not self.sessions.enabled:
            session = self.sessions.create("")  # --no-auth on loopback: a session for the CSRF token only
            request.set_cookie = cookie_header(session, PREFIX)
        return session

    def _refusal(self, request: Request, exc: ConsoleError) -> HttpResponse:
        if _wants_json(request):
            return json_response({"error": exc.message}, exc.status)
        back = request.header("referer")
        if request.method == "POST" and exc.status in (400, 404, 409) and request.session is not None \
                and _same_host(request, back):
            request.session.say("error", exc.message)
            return redirect(back)
        return html(page("Error %d" % exc.status, '<p class="flash error" role="alert">%s</p>'
                         % _escape(exc.message), request.session), exc.status)


def _escape(text: str) -> str:
    from html import escape

    return escape(text)


def _same_host(request: Request, link: str) -> bool:
    parts = link.split("/")
    return len(parts) > 3 and parts[2] == request.header("host") and parts[3] == PREFIX.strip("/")


def _wants_json(request: Request) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.header("accept")


def _static(name: str) -> HttpResponse:
    if not re.match(r"^[a-z0-9_-]+\.(css|js|png)$", name):
        raise ConsoleError("no such file", 404)
    path = os.path.join(STATIC, name)
    if not os.path.isfile(path):
        raise ConsoleError("no such file", 404)
    with open(path, "rb") as handle:
        return data(handle.read(), _TYPES[os.path.splitext(name)[1]], "public, max-age=3600")
