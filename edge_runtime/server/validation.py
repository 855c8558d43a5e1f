"""The model's constraints, applied to every operation's input: required, length, range, pattern, enum.

Messages follow the form AWS services use ("1 validation error detected: Value 'x' at 'projectName'
failed to satisfy constraint: ..."). Patterns are matched against the whole value, as the AWS
service framework does; Java's `\\p{L}`, `\\p{Z}` and `\\p{N}` classes are translated for Python's re.
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata
from typing import Any

from edge_runtime.server.errors import ApiError, validation
from edge_runtime.server.model import ServiceModel

MAX_REPORTED = 10
_UNICODE_CLASS = re.compile(r"\\p\{([A-Z])\}")


@functools.lru_cache(maxsize=None)
def _category_ranges() -> dict[str, str]:
    """Character-class bodies (no brackets) per major Unicode category, built in one pass (~1 s, once)."""
    ranges: dict[str, list[list[int]]] = {}
    category = unicodedata.category
    for point in range(sys.maxunicode + 1):
        spans = ranges.setdefault(category(chr(point))[0], [])
        if spans and spans[-1][1] == point - 1:
            spans[-1][1] = point
        else:
            spans.append([point, point])
    return {major: "".join(re.escape(chr(a)) if a == b else "%s-%s" % (re.escape(chr(a)), re.escape(chr(b)))
                           for a, b in spans)
            for major, spans in ranges.items()}


@functools.lru_cache(maxsize=None)
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Compile a model pattern for Python; `\\p{X}` only occurs inside character classes in this model."""
    translated = _UNICODE_CLASS.sub(lambda m: _category_ranges()[m.group(1)], pattern)
    return re.compile(translated)


def _describe(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    if isinstance(value, (bytes, bytearray)):
        text = "<%d bytes>" % len(value)
    return text if len(text) <= 120 else text[:117] + "..."


class Validator:
    """Checks input dicts against the model; raises one ValidationException listing the problems."""

    def __init__(self, model: ServiceModel) -> None:
        self._model = model

    def validate(self, shape_name: str | None, params: dict[str, Any]) -> None:
        if shape_name is None:
            return
        problems: list[str] = []
        self._check_structure(self._model.shape(shape_name), params, "", problems)
        if problems:
            raise validation_error(problems)

    def _check(self, shape_name: str, value: Any, where: str, problems: list[str]) -> None:
        shape = self._model.shape(shape_name)
        kind = shape["type"]
        if kind == "structure":
            self._check_structure(shape, value, where, problems)
        elif kind == "list":
            self._check_length(shape, value, len(value), where, problems)
            for index, item in enumerate(value):
                self._check(shape["member"]["shape"], item, "%s.%d" % (where, index + 1), problems)
        elif kind in ("string", "blob"):
            self._check_length(shape, value, len(value), where, problems)
            if kind == "string":
                self._check_text(shape, value, where, problems)
        elif kind in ("integer", "long"):
            self._check_range(shape, value, where, problems)

    def _check_structure(self, shape: dict[str, Any], value: dict[str, Any], where: str,
                         problems: list[str]) -> None:
        members = shape.get("members", {})
        for name in shape.get("required", ()):
            if value.get(name) is None:
                problems.append("Value null at '%s' failed to satisfy constraint: Member must not be null"
                                % _path(where, name))
        for name, item in value.items():
            if name in members and item is not None:
                self._check(members[name]["shape"], item, _path(where, name), problems)

    @staticmethod
    def _check_length(shape: dict[str, Any], value: Any, length: int, where: str, problems: list[str]) -> None:
        if "min" in shape and length < shape["min"]:
            problems.append("Value '%s' at '%s' failed to satisfy constraint: Member must have length greater "
                            "than or equal to %d" % (_describe(value), where, shape["min"]))
        if "max" in shape and length > shape["max"]:
            problems.append("Value '%s' at '%s' failed to satisfy constraint: Member must have length less "
                            "than or equal to %d" % (_describe(value), where, shape["max"]))

    @staticmethod
    def _check_text(shape: dict[str, Any], value: str, where: str, problems: list[str]) -> None:
        if "enum" in shape and value not in shape["enum"]:
            problems.append("Value '%s' at '%s' failed to satisfy constraint: Member must satisfy enum value "
                            "set: [%s]" % (_describe(value), where, ", ".join(shape["enum"])))
        if "pattern" in shape and not compile_pattern(shape["pattern"]).fullmatch(value):
            problems.append("Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular "
                            "expression pattern: %s" % (_describe(value), where, shape["pattern"]))

    @staticmethod
    def _check_range(shape: dict[str, Any], value: int, where: str, problems: list[str]) -> None:
        if "min" in shape and value < shape["min"]:
            problems.append("Value '%d' at '%s' failed to satisfy constraint: Member must have value greater "
                            "than or equal to %d" % (value, where, shape["min"]))
        if "max" in shape and value > shape["max"]:
            problems.append("Value '%d' at '%s' failed to satisfy constraint: Member must have value less "
                            "than or equal to %d" % (value, where, shape["max"]))


def _path(where: str, name: str) -> str:
    wire = name[:1].lower() + name[1:]
    return wire if not where else where + "." + wire


def validation_error(problems: list[str]) -> ApiError:
    shown = problems[:MAX_REPORTED]
    count = len(problems)
    return validation("%d validation error%s detected: %s" % (count, "" if count == 1 else "s", "; ".join(shown)))
