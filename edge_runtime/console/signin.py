"""Sign-in (access key pair or a one-time link) and sign-out."""

from __future__ import annotations

from typing import Any

from edge_runtime.console.http import PREFIX, HttpResponse, Request, html, redirect, url
from edge_runtime.console.layout import e, page
from edge_runtime.console.sessions import cookie_header, csrf_ok


def _target(request: Request) -> str:
    target = request.field("next") or request.arg("next")
    return target if target.startswith(PREFIX + "/") and "//" not in target else url("/")


def show(console: Any, request: Request) -> HttpResponse:
    token = request.arg("token")
    if token and console.sessions.use_link(token):
        return _signed_in(console, request, "link")
    if request.session is not None:
        return redirect(_target(request))
    failed = request.arg("failed") == "1" or (token != "")
    note = '<p class="flash error" role="alert">%s</p>' % (
        "That sign-in link is used or expired." if token else "Wrong access key id or secret.") if failed else ""
    body = (note + '<form method="post" action="%s" class="signin"><input type="hidden" name="next" value="%s">'
            '<label>Access key id <input name="access_key" autocomplete="username" required autofocus></label>'
            '<label>Secret access key <input name="secret_key" type="password" autocomplete="current-password" '
            'required></label><button type="submit">Sign in</button></form>'
            '<p class="hint">Use the key pair the server accepts (its <code>server-credentials</code> file), or the '
            'one-time link it printed at start-up.</p>' % (url("/signin"), e(_target(request))))
    return html(page("Sign in", body), 401 if failed else 200)


def submit(console: Any, request: Request) -> HttpResponse:
    key_id, secret = request.field("access_key"), request.field("secret_key")
    if not console.sessions.check_keys(key_id, secret):
        return redirect(url("/signin", failed="1", next=_target(request)))
    return _signed_in(console, request, key_id)


def _signed_in(console: Any, request: Request, user: str) -> HttpResponse:
    if request.session is not None:
        console.sessions.end(request.session.token)  # a fresh token at sign-in: no fixation
    session = console.sessions.create(user)
    request.set_cookie = cookie_header(session, PREFIX)
    return redirect(_target(request))


def signout(console: Any, request: Request) -> HttpResponse:
    if request.session is not None and csrf_ok(request.session, request.field("_csrf")):
        console.sessions.end(request.session.token)
    request.set_cookie = cookie_header(None, PREFIX)
    return redirect(url("/signin"))


ROUTES = [
    ("GET", "/signin", show),
    ("POST", "/signin", submit),
    ("POST", "/signout", signout),
]
