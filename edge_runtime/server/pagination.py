"""Opaque NextToken values: the position after the last item returned, signed so clients cannot forge them.

A token is bound to the operation and its filters (a scope string); using it with other filters, or
tampering with it, is a ValidationException. Tokens are standard base64 (the model's pattern) and
stay valid across restarts because the signing secret lives in the store.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any, Callable, Sequence, TypeVar

from edge_runtime.server.errors import validation

DEFAULT_PAGE_SIZE = 100
T = TypeVar("T")


class TokenCodec:
    def __init__(self, secret: str) -> None:
        self._key = secret.encode("utf-8")

    def _mac(self, scope: str, data: bytes) -> bytes:
        return hmac.new(self._key, scope.encode("utf-8") + b"\0" + data, hashlib.sha256).digest()[:12]

    def encode(self, scope: str, position: Any) -> str:
        data = json.dumps(position, separators=(",", ":")).encode("utf-8")
        return base64.b64encode(self._mac(scope, data) + data).decode("ascii")

    def decode(self, scope: str, token: str) -> Any:
        try:
            raw = base64.b64decode(token.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            raw = b""
        mac, data = raw[:12], raw[12:]
        if len(raw) <= 12 or not hmac.compare_digest(mac, self._mac(scope, data)):
            raise validation("the NextToken is not one this server issued for this request; start again "
                             "without a NextToken")
        return json.loads(data.decode("utf-8"))


def paginate(codec: TokenCodec, scope: str, items: Sequence[T], key: Callable[[T], Any],
             max_results: int | None, next_token: str | None) -> tuple[list[T], str | None]:
    """One page of `items` (already sorted by `key`, ascending and unique) after the token's position."""
    start = 0
    if next_token:
        after = codec.decode(scope, next_token)
        start = next((i for i, item in enumerate(items) if _cmp_key(key(item)) > _cmp_key(after)), len(items))
    size = max_results or DEFAULT_PAGE_SIZE
    page = list(items[start:start + size])
    token = None
    if start + size < len(items) and page:
        token = codec.encode(scope, key(page[-1]))
    return page, token


def _cmp_key(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value
