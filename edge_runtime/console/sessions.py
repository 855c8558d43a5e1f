"""Sign-in with the server's access key pair; sessions, CSRF tokens and one-time sign-in links.

A session is a random token in an HttpOnly, SameSite=Strict cookie scoped to the console path; the
server keeps sessions in memory (a restart signs everyone out). Every change (any method but GET
and HEAD) must carry the session's CSRF token, as a form field or the X-CSRF-Token header.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Mapping

COOKIE = "edge_console"
SESSION_IDLE_S = 12 * 3600
LINK_TTL_S = 600
MAX_SESSIONS = 1000


@dataclass
class Session:
    token: str
    csrf: str
    user: str
    seen: float = field(default_factory=time.monotonic)
    flash: list[tuple[str, str]] = field(default_factory=list)  # (kind, message) shown on the next page

    def say(self, kind: str, message: str) -> None:
        self.flash.append((kind, message))

    def take_flash(self) -> list[tuple[str, str]]:
        messages, self.flash = self.flash, []
        return messages


class Sessions:
    def __init__(self, access_keys: Mapping[str, str], enabled: bool) -> None:
        self._keys = dict(access_keys)
        self.enabled = enabled
        self._sessions: dict[str, Session] = {}
        self._links: dict[str, float] = {}
        self._lock = threading.Lock()

    def check_keys(self, key_id: str, secret: str) -> bool:
        expected = self._keys.get(key_id)
        # compare even for unknown ids so the answer takes as long either way
        return hmac.compare_digest((expected or "\0" * 40).encode(), secret.encode()) and expected is not None

    def create(self, user: str) -> Session:
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(24), user)
        with self._lock:
            if len(self._sessions) >= MAX_SESSIONS:
                oldest = min(self._sessions.values(), key=lambda s: s.seen)
                self._sessions.pop(oldest.token, None)
            self._sessions[session.token] = session
        return session

    def find(self, token: str | None) -> Session | None:
        if not token:
            return None
        with self._lock:
            session = self._sessions.get(token)
            if session is None:
                return None
            if time.monotonic() - session.seen > SESSION_IDLE_S:
                self._sessions.pop(token, None)
                return None
            session.seen = time.monotonic()
            return session

    def end(self, token: str) -> None:
        with self._lock:
            self._sessions.pop(token, None)

    def signin_link_token(self) -> str:
        """A token for one sign-in within LINK_TTL_S (printed by `edge-runtime server` at start-up)."""
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._links[token] = time.monotonic() + LINK_TTL_S
        return token

    def use_link(self, token: str) -> bool:
        with self._lock:
            expires = self._links.pop(token, None)
        return expires is not None and time.monotonic() < expires


def cookie_header(session: Session | None, path: str) -> str:
    if session is None:
        return "%s=; Path=%s; Max-Age=0; HttpOnly; SameSite=Strict" % (COOKIE, path)
    return "%s=%s; Path=%s; HttpOnly; SameSite=Strict" % (COOKIE, session.token, path)


def csrf_ok(session: Session, supplied: str) -> bool:
    return bool(supplied) and hmac.compare_digest(session.csrf.encode(), supplied.encode())
