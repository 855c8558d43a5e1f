"""Publish one component: the order that keeps a failure from leaving a half-published component.

1. refuse a name and version the destination already holds;
2. build and render the recipe (schema, device rules, 16 KB) before anything is uploaded;
3. upload every artifact;
4. write the recipe, last, so it never references a partial upload;
5. optionally register with Greengrass and wait for DEPLOYABLE.
Any failure after step 2 removes what this publish wrote (recipe first) and re-raises with the reason
and whatever could not be cleaned up.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Sequence

from edge_runtime.errors import AlreadyExists
from edge_runtime.packaging.artifacts import Artifact
from edge_runtime.packaging.destinations import Destination
from edge_runtime.packaging.recipes import render_recipe

LOG = logging.getLogger(__name__)

# Builds the recipe dict from {artifact file name: URI}.
RecipeBuilder = Callable[[Dict[str, str]], Dict[str, Any]]
# Registers rendered recipe bytes with Greengrass; returns the component version ARN.
Registrar = Callable[[bytes], str]


@dataclass(frozen=True)
class PublishResult:
    component_name: str
    component_version: str
    recipe_location: str
    recipe: bytes
    artifact_uris: Dict[str, str]
    component_arn: str = ""


def publish_component(destination: Destination, name: str, version: str, artifacts: Sequence[Artifact],
                      build_recipe: RecipeBuilder, fmt: str = "json", registrar: Optional[Registrar] = None,
                      progress: Callable[[str], None] = LOG.info) -> PublishResult:
    found = destination.existing(name, version)
    if found:
        raise AlreadyExists("component %s version %s is already published at %s" % (name, version, found))
    uris = {a.file_name: destination.artifact_uri(name, version, a.file_name) for a in artifacts}
    data = render_recipe(build_recipe(uris), fmt)
    try:
        progress("uploading %d artifact(s) to %s" % (len(artifacts), destination.describe()))
        destination.publish_artifacts(name, version, artifacts)
        location = destination.publish_recipe(name, version, fmt, data)
        progress("recipe written to %s" % location)
        arn = ""
        if registrar is not None:
            progress("registering %s %s with Greengrass" % (name, version))
            arn = registrar(data)
    except Exception as exc:  # any failure: take back what was written, then report it
        left = destination.remove()
        note = "; could not remove: %s" % ", ".join(left) if left else "; nothing was left published"
        exc.args = (str(exc) + note,)  # keep the type (AlreadyExists stays AlreadyExists), add the clean-up
        raise
    return PublishResult(component_name=name, component_version=version, recipe_location=location,
                         recipe=data, artifact_uris=uris, component_arn=arn)
