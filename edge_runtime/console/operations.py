"""The REST API's operations, called in-process: the same validation, handlers and errors as boto3 gets."""

from __future__ import annotations

from typing import Any

from edge_runtime.console.http import ConsoleError
from edge_runtime.server.errors import ApiError

_STATUS = {"ResourceNotFoundException": 404, "ConflictException": 409, "AccessDeniedException": 403}


class Operations:
    def __init__(self, dispatcher: Any) -> None:
        self._dispatcher = dispatcher

    def call(self, name: str, **params: Any) -> dict[str, Any]:
        """Run operation `name`; an API error becomes a ConsoleError carrying the API's message."""
        try:
            return self._dispatcher.invoke(name, {k: v for k, v in params.items() if v is not None})
        except ApiError as exc:
            raise ConsoleError(exc.message, _STATUS.get(exc.code, 400)) from None

    def pages(self, name: str, key: str, **params: Any) -> list[Any]:
        """Every item of a paginated list operation."""
        items: list[Any] = []
        token = None
        while True:
            page = self.call(name, NextToken=token, **params)
            items.extend(page.get(key) or [])
            token = page.get("NextToken")
            if not token:
                return items
