"""Recipes as data: validated against AWS's recipe schema, then rendered to JSON or YAML bytes.

Validation follows AWS's component build tool (its RecipeValidator): every key lower-cased first
(recipe keys are case-insensitive to the device), JSON Schema draft-07 with the schema shipped inside
this package, and rendered files over 16,000 bytes refused. On top of the schema, which leaves them
to the device, it checks what the device would reject later: a semantic version, known lifecycle
steps, an SHA-256 digest on every S3 artifact, and the architectures a device reports.
"""

from __future__ import annotations

import functools
import json
from typing import Any, Dict, List

from edge_runtime.errors import InvalidArgument, RecipeError, require
from edge_runtime.packaging import rules

RECIPE_FORMAT_VERSION = "2020-01-25"
MAX_RECIPE_BYTES = 16000
SCHEMA_RESOURCE = "greengrass-recipe.schema.json"
LIFECYCLE_STEPS = ("setenv", "install", "run", "startup", "shutdown", "recover", "bootstrap")
ARCHITECTURES = ("amd64", "aarch64", "arm", "x86", "*")


@functools.lru_cache(maxsize=1)
def load_schema() -> Dict[str, Any]:
    """The recipe schema shipped as package data (edge_runtime/packaging/data/)."""
    from importlib import resources

    text = resources.files("edge_runtime.packaging").joinpath("data", SCHEMA_RESOURCE).read_text("utf-8")
    return json.loads(text)


def lower_keys(value: Any) -> Any:
    """Every mapping key lower-cased, recursively, as AWS's tool does before checking."""
    if isinstance(value, dict):
        return {str(k).lower(): lower_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [lower_keys(v) for v in value]
    return value


def validate_recipe(recipe: Dict[str, Any]) -> None:
    """Raise RecipeError listing every schema violation and device rule the recipe breaks."""
    jsonschema = require("jsonschema", "package")
    lowered = lower_keys(recipe)
    validator = jsonschema.Draft7Validator(load_schema())
    problems = ["%s: %s" % ("/".join(str(p) for p in err.absolute_path) or "(top)", err.message)
                for err in sorted(validator.iter_errors(lowered), key=lambda e: list(e.absolute_path))]
    if not problems:
        problems = _device_rules(lowered)
    if problems:
        raise RecipeError("recipe for %s breaks %d rule(s): %s"
                          % (recipe.get("ComponentName", "?"), len(problems), "; ".join(problems)))


def _device_rules(recipe: Dict[str, Any]) -> List[str]:
    problems = []
    try:
        rules.check_component_version(recipe["componentversion"], lookout=False)
    except InvalidArgument as exc:
        problems.append(str(exc))
    for dep, spec in (recipe.get("componentdependencies") or {}).items():
        if not spec.get("versionrequirement", "").strip():
            problems.append("dependency %s has an empty VersionRequirement" % dep)
    for index, manifest in enumerate(recipe["manifests"]):
        arch = (manifest.get("platform") or {}).get("architecture")
        if arch is not None and arch not in ARCHITECTURES:
            problems.append("manifests/%d: architecture %r is never reported by a device (use %s)"
                            % (index, arch, " or ".join(ARCHITECTURES[:2])))
        unknown = sorted(set(manifest.get("lifecycle") or {}) - set(LIFECYCLE_STEPS))
        if unknown:
            problems.append("manifests/%d: unknown lifecycle step(s) %s" % (index, unknown))
        for artifact in manifest.get("artifacts") or []:
            if artifact["uri"].lower().startswith("s3://") and (
                artifact.get("algorithm") != "SHA-256" or not artifact.get("digest")
            ):
                problems.append("manifests/%d: artifact %s needs Algorithm SHA-256 and a Digest"
                                % (index, artifact["uri"]))
    return problems


def render_recipe(recipe: Dict[str, Any], fmt: str = "json") -> bytes:
    """Validate, render and size-check; what this returns may be written or sent as inlineRecipe."""
    validate_recipe(recipe)
    if fmt == "json":
        data = (json.dumps(recipe, indent=2) + "\n").encode("utf-8")
    elif fmt == "yaml":
        data = _yaml_dump(recipe).encode("utf-8")
    else:
        raise InvalidArgument("recipe format must be json or yaml, got %r" % fmt)
    if len(data) > MAX_RECIPE_BYTES:
        raise RecipeError("the %s recipe for %s is %d bytes; Greengrass accepts at most %d"
                          % (fmt, recipe.get("ComponentName"), len(data), MAX_RECIPE_BYTES))
    return data


def _yaml_dump(recipe: Dict[str, Any]) -> str:
    """Block style; scripts as literal `|` blocks so they read like shell. SafeDumper quotes strings that
    would read back as another type, e.g. the 2020-01-25 date."""
    yaml = require("yaml", "package")

    class Dumper(yaml.SafeDumper):  # type: ignore[name-defined,misc]
        pass

    def text(dumper: Any, value: str) -> Any:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    return yaml.dump(recipe, Dumper=Dumper, sort_keys=False, default_flow_style=False, width=1000)


def parse_recipe(data: bytes, fmt: str = "json") -> Dict[str, Any]:
    """Read a rendered recipe back (tests, the harness, register)."""
    if fmt == "json":
        return json.loads(data.decode("utf-8"))
    yaml = require("yaml", "package")
    return yaml.safe_load(data.decode("utf-8"))


def recipe_file_name(name: str, version: str, fmt: str = "json") -> str:
    return "%s-%s.%s" % (name, version, fmt)
