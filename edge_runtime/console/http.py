"""Requests and responses as the console sees them: parsed query, form, JSON body and cookies."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, quote

from edge_runtime.server.dispatch import HttpResponse

PREFIX = "/console"  # where the server mounts the console
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; script-src 'self'; "
                               "style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; "
                               "form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class ConsoleError(Exception):
    """A refusal shown to the user as it is (what was expected, what arrived)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass
class Request:
    method: str
    path: str  # below the console prefix, starting with "/"
    query: dict[str, list[str]]
    headers: dict[str, list[str]]
    body: bytes
    session: Any = None
    console: Any = None  # the Console serving the request
    set_cookie: str = ""  # a Set-Cookie header for the response (sign-in, sign-out)
    _form: dict[str, list[str]] | None = field(default=None, repr=False)

    def header(self, name: str) -> str:
        return (self.headers.get(name.lower()) or [""])[0]

    def arg(self, name: str, default: str = "") -> str:
        return (self.query.get(name) or [default])[0]

    def cookies(self) -> dict[str, str]:
        jar: SimpleCookie = SimpleCookie()
        for value in self.headers.get("cookie", []):
            try:
                jar.load(value)
            except Exception:  # a malformed cookie header is ignored, as browsers do
                continue
        return {k: m.value for k, m in jar.items()}

    def form(self) -> dict[str, list[str]]:
        if self._form is None:
            self._form = {}
            if self.header("content-type").startswith("application/x-www-form-urlencoded"):
                self._form = parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        return self._form

    def field(self, name: str, default: str = "") -> str:
        return (self.form().get(name) or [default])[0].strip()

    def json(self) -> dict[str, Any]:
        try:
            value = json.loads(self.body.decode("utf-8") or "{}")
        except (UnicodeDecodeError, ValueError):
            raise ConsoleError("expected a JSON object in the request body") from None
        if not isinstance(value, dict):
            raise ConsoleError("expected a JSON object in the request body")
        return value


def html(body: str, status: int = 200, headers: dict[str, str] | None = None) -> HttpResponse:
    out = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store", **SECURITY_HEADERS}
    out.update(headers or {})
    return HttpResponse(status, body.encode("utf-8"), out)


def json_response(value: Any, status: int = 200) -> HttpResponse:
    return HttpResponse(status, json.dumps(value).encode("utf-8"),
                        {"Content-Type": "application/json", "Cache-Control": "no-store", **SECURITY_HEADERS})


def redirect(location: str, headers: dict[str, str] | None = None) -> HttpResponse:
    return HttpResponse(303, b"", {"Location": location, "Cache-Control": "no-store", **(headers or {})})


def data(body: bytes, content_type: str, cache: str = "private, max-age=300") -> HttpResponse:
    return HttpResponse(200, body, {"Content-Type": content_type, "Cache-Control": cache,
                                    "X-Content-Type-Options": "nosniff"})


def url(path: str, **query: Any) -> str:
    """A console URL: PREFIX + path and the query parameters that are not None."""
    pairs = ["%s=%s" % (k, quote(str(v), safe="")) for k, v in query.items() if v is not None and v != ""]
    return PREFIX + path + ("?" + "&".join(pairs) if pairs else "")
