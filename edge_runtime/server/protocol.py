"""REST-JSON on the wire: request parts -> input parameters, output parameters -> response body.

Where each member travels is read from the shape (`location`: uri, querystring, header; else the
JSON body, or the raw body for a streaming `payload`). Wire types follow botocore: timestamps are
epoch seconds in JSON and ISO 8601 in query strings, blobs are base64 in JSON, booleans in query
strings are `true`/`false`. Anything that cannot be read is a ValidationException naming the member.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from edge_runtime.server.errors import validation
from edge_runtime.server.model import ServiceModel


@dataclass(frozen=True)
class WireRequest:
    """What the HTTP layer read, before any interpretation."""

    labels: dict[str, str]
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes


def _wire_name(name: str) -> str:
    return name[:1].lower() + name[1:]


def parse_timestamp(text: str, where: str) -> float:
    """ISO 8601 (with or without zone; UTC assumed) or epoch seconds -> epoch seconds."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise validation("Value '%s' at '%s' failed to satisfy constraint: Member must be a timestamp such as "
                         "2020-06-23T00:00:00Z" % (text, where)) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.timestamp()


def _scalar_from_text(shape: dict[str, Any], text: str, where: str) -> Any:
    kind = shape["type"]
    if kind in ("integer", "long"):
        try:
            return int(text)
        except ValueError:
            raise validation("Value '%s' at '%s' failed to satisfy constraint: Member must be an integer"
                             % (text, where)) from None
    if kind == "boolean":
        if text.lower() not in ("true", "false"):
            raise validation("Value '%s' at '%s' failed to satisfy constraint: Member must be true or false"
                             % (text, where))
        return text.lower() == "true"
    if kind == "timestamp":
        return parse_timestamp(text, where)
    return text


class RequestDecoder:
    """Turns a WireRequest into the operation's input dict (member names as in the model)."""

    def __init__(self, model: ServiceModel) -> None:
        self._model = model

    def decode(self, input_shape: str | None, request: WireRequest) -> dict[str, Any]:
        if input_shape is None:
            return {}
        shape = self._model.shape(input_shape)
        params: dict[str, Any] = {}
        payload = shape.get("payload")
        body_members = {}
        for name, member in shape.get("members", {}).items():
            target = self._model.shape(member["shape"])
            location = member.get("location")
            wire = member.get("locationName", name)
            if location == "uri" and wire in request.labels:
                params[name] = _scalar_from_text(target, request.labels[wire], _wire_name(name))
            elif location == "querystring" and wire in request.query:
                params[name] = self._from_query(target, request.query[wire], _wire_name(name))
            elif location == "header" and wire.lower() in request.headers:
                params[name] = _scalar_from_text(target, request.headers[wire.lower()], _wire_name(name))
            elif location is None and name == payload:
                if target["type"] == "blob":
                    params[name] = request.body
            elif location is None:
                body_members[name] = member
        if body_members:
            document = self._json_body(request.body)
            for name, member in body_members.items():
                if name in document and document[name] is not None:
                    params[name] = self._from_json(member["shape"], document[name], _wire_name(name))
        return params

    def _from_query(self, shape: dict[str, Any], values: list[str], where: str) -> Any:
        if shape["type"] == "list":
            member = self._model.shape(shape["member"]["shape"])
            return [_scalar_from_text(member, v, where) for v in values]
        return _scalar_from_text(shape, values[-1], where)

    @staticmethod
    def _json_body(body: bytes) -> dict[str, Any]:
        if not body.strip():
            return {}
        try:
            document = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise validation("the request body must be a JSON object; it could not be parsed (%s)" % exc) from None
        if not isinstance(document, dict):
            raise validation("the request body must be a JSON object, got %s" % type(document).__name__)
        return document

    def _from_json(self, shape_name: str, value: Any, where: str) -> Any:
        shape = self._model.shape(shape_name)
        kind = shape["type"]
        if kind == "structure":
            if not isinstance(value, dict):
                raise _type_error(value, where, "an object")
            return {name: self._from_json(member["shape"], value[name], where + "." + _wire_name(name))
                    for name, member in shape.get("members", {}).items()
                    if name in value and value[name] is not None}
        if kind == "list":
            if not isinstance(value, list):
                raise _type_error(value, where, "a list")
            return [self._from_json(shape["member"]["shape"], item, "%s.%d" % (where, i + 1))
                    for i, item in enumerate(value)]
        if kind == "map":
            if not isinstance(value, dict):
                raise _type_error(value, where, "an object")
            return {k: self._from_json(shape["value"]["shape"], v, where + "." + k) for k, v in value.items()}
        return _json_scalar(kind, value, where)


def _json_scalar(kind: str, value: Any, where: str) -> Any:
    if kind == "blob":
        if not isinstance(value, str):
            raise _type_error(value, where, "base64 text")
        try:
            return base64.b64decode(value.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            raise validation("Value at '%s' failed to satisfy constraint: Member must be base64 encoded"
                             % where) from None
    if kind == "timestamp":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            return parse_timestamp(value, where)
        raise _type_error(value, where, "a timestamp")
    checks = {
        "string": lambda v: isinstance(v, str),
        "boolean": lambda v: isinstance(v, bool),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "long": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "double": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    }
    check = checks.get(kind)
    if check is not None and not check(value):
        raise _type_error(value, where, "a " + kind)
    return value


def _type_error(value: Any, where: str, expected: str) -> Exception:
    return validation("Value '%s' at '%s' failed to satisfy constraint: Member must be %s, got %s"
                      % (str(value)[:100], where, expected, type(value).__name__))


class ResponseEncoder:
    """Output dicts to JSON the way botocore parses rest-json responses."""

    def __init__(self, model: ServiceModel) -> None:
        self._model = model

    def encode(self, output_shape: str | None, output: dict[str, Any]) -> bytes:
        if output_shape is None:
            return b"{}"
        document = self._to_json(output_shape, output)
        return json.dumps(document, separators=(",", ":")).encode("utf-8")

    def _to_json(self, shape_name: str, value: Any) -> Any:
        shape = self._model.shape(shape_name)
        kind = shape["type"]
        if kind == "structure":
            members = shape.get("members", {})
            return {name: self._to_json(members[name]["shape"], item)
                    for name, item in value.items() if item is not None and name in members
                    and members[name].get("location") is None}
        if kind == "list":
            return [self._to_json(shape["member"]["shape"], item) for item in value]
        if kind == "map":
            return {k: self._to_json(shape["value"]["shape"], v) for k, v in value.items()}
        if kind == "blob":
            return base64.b64encode(value).decode("ascii")
        if kind == "timestamp":
            seconds = parse_timestamp(value, "output") if isinstance(value, str) else float(value)
            return round(seconds, 3)
        return value
