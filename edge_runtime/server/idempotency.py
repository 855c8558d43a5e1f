"""ClientToken idempotency: the same token with the same input returns the first response for 8 hours.

The same token with different input is a ConflictException, as the API documents ("an error occurs if
the other input parameters are not the same"). Only successful responses are remembered, so a
retry after a failure runs again.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any

from edge_runtime.server.errors import ApiError
from edge_runtime.server.store import Store

TOKEN_LIFETIME_S = 8 * 3600


def fingerprint(params: dict[str, Any]) -> str:
    """A stable hash of an operation's input without its ClientToken."""
    def default(value: Any) -> Any:
        if isinstance(value, (bytes, bytearray)):
            return base64.b64encode(bytes(value)).decode("ascii")
        raise TypeError(type(value).__name__)

    clean = {k: v for k, v in params.items() if k != "ClientToken"}
    text = json.dumps(clean, sort_keys=True, default=default, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class IdempotencyCache:
    def __init__(self, store: Store, lifetime_s: float = TOKEN_LIFETIME_S) -> None:
        self._store = store
        self._lifetime_s = lifetime_s

    def lookup(self, operation: str, token: str, params: dict[str, Any]) -> dict[str, Any] | None:
        """The remembered response for a repeated call, None for a new one."""
        row = self._store.query_one(
            "SELECT fingerprint, response FROM lv_client_tokens WHERE operation = ? AND token = ? AND created > ?",
            (operation, token, time.time() - self._lifetime_s))
        if row is None:
            return None
        if row["fingerprint"] != fingerprint(params):
            raise ApiError("ConflictException",
                           "ClientToken %r was used for a %s call with different parameters within the last 8 "
                           "hours; use a new ClientToken for a new request" % (token, operation),
                           ResourceId=token, ResourceType=_resource_type(operation))
        return json.loads(row["response"])  # type: ignore[no-any-return]

    def remember(self, operation: str, token: str, params: dict[str, Any], response: dict[str, Any]) -> None:
        now = time.time()
        with self._store.transaction() as tx:
            tx.execute("DELETE FROM lv_client_tokens WHERE created <= ?", (now - self._lifetime_s,))
            tx.execute("INSERT OR REPLACE INTO lv_client_tokens (operation, token, fingerprint, response, created) "
                       "VALUES (?, ?, ?, ?, ?)", (operation, token, fingerprint(params), json.dumps(response), now))


def _resource_type(operation: str) -> str:
    for word, kind in (("PackagingJob", "MODEL_PACKAGE_JOB"), ("Dataset", "DATASET"), ("Model", "MODEL")):
        if word in operation:
            return kind
    return "PROJECT"
