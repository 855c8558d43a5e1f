"""The recipe of a model component: a compiled model package that the running agent picks up.

The artifact is one ZIP (`model.zip`) of the compiled package folder; the device unpacks it to
`{artifacts:decompressedPath}/model/` with Read ALL so the agent component, another Greengrass
component, may read it. The lifecycle only links that folder into the agent's models root as
`<modelsRoot>/<ComponentName>`; the agent rescans the root, so the model appears in ListModels without
an agent restart, and disappears when Shutdown (component removed or stopped) removes the link.

- Run, not Install, makes the link: Run runs on every start and restart, Shutdown on every stop, so
  the two stay paired. Run exits at once and the component is FINISHED.
- modelsRoot comes from the agent's configuration (`{EdgeRuntime.Agent:configuration:/modelsRoot}`);
  empty or missing means the agent's default, `<agent work folder>/models`.
- The dependency on the agent is SOFT: the agent restarting (an update, a crash) must not stop and
  restart every model component, which would unlink and relink every model under a running agent.
  Greengrass still installs and starts the agent first.
- JetPack releases: a recipe built with `jetpack` set requires the platform attribute `jetpack` to
  equal it; devices declare theirs in the nucleus `platformOverride` (e.g. `{"jetpack": "5.1"}`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional

from edge_runtime import __version__
from edge_runtime.errors import InvalidArgument
from edge_runtime.packaging import rules
from edge_runtime.packaging.artifacts import Artifact
from edge_runtime.packaging.recipes import RECIPE_FORMAT_VERSION

AGENT_COMPONENT = "EdgeRuntime.Agent"
# The agent releases a model component runs on: this one and later ones of the same major (0.x: below 1.0.0).
AGENT_REQUIREMENT = rules.version_requirement_for(__version__)
MODEL_ZIP = "model.zip"
MODEL_DIR = "model"  # what the device unpacks model.zip to
PUBLISHER = "edge-runtime"
ARCHITECTURES = ("aarch64", "amd64")

_MODELS_ROOT = """ROOT='{%(agent)s:configuration:/modelsRoot}'
case "$ROOT" in ''|'{'*) ROOT='{%(agent)s:work:path}/models' ;; esac
SRC='{artifacts:decompressedPath}/%(dir)s'
LINK="$ROOT/%(name)s"
"""
_RUN = """set -eu
%(root)stest -f "$SRC/edge-model.json" || { echo "model package missing in $SRC" >&2; exit 1; }
mkdir -p "$ROOT"
ln -sfn "$SRC" "$ROOT/.%(name)s.link.$$"
mv -Tf "$ROOT/.%(name)s.link.$$" "$LINK"
echo "model %(name)s linked into $ROOT"
"""
_SHUTDOWN = """%(root)sif [ -L "$LINK" ] && [ "$(readlink "$LINK")" = "$SRC" ]; then
  rm -f "$LINK"
  echo "model %(name)s unlinked"
fi
"""


@dataclass(frozen=True)
class ModelComponentSpec:
    """What the model recipe says beyond its artifact."""

    name: str
    version: str
    architecture: str  # aarch64 | amd64, as the device reports it
    description: str = ""
    jetpack: Optional[str] = None
    agent_requirement: str = AGENT_REQUIREMENT

    def __post_init__(self) -> None:
        rules.check_component_name(self.name)
        rules.check_component_version(self.version, lookout=False)
        if self.architecture not in ARCHITECTURES:
            raise InvalidArgument("architecture must be aarch64 or amd64, got %r" % self.architecture)


def platform_for(spec: ModelComponentSpec) -> Dict[str, str]:
    platform = {"os": "linux", "architecture": spec.architecture}
    if spec.jetpack:
        platform["jetpack"] = spec.jetpack
    return platform


def lifecycle_scripts(name: str, agent: str = AGENT_COMPONENT) -> Dict[str, str]:
    root = _MODELS_ROOT % {"agent": agent, "dir": MODEL_DIR, "name": name}
    return {"Run": _RUN % {"root": root, "name": name}, "Shutdown": _SHUTDOWN % {"root": root, "name": name}}


def model_recipe(spec: ModelComponentSpec, artifact: Artifact, uri: str) -> Dict[str, Any]:
    """The recipe as data; `recipes.render_recipe` validates and renders it."""
    scripts = lifecycle_scripts(spec.name)
    return {
        "RecipeFormatVersion": RECIPE_FORMAT_VERSION,
        "ComponentName": spec.name,
        "ComponentVersion": spec.version,
        "ComponentDescription": spec.description or "Anomaly detection model for the edge-runtime agent.",
        "ComponentPublisher": PUBLISHER,
        "ComponentDependencies": {
            AGENT_COMPONENT: {"VersionRequirement": spec.agent_requirement, "DependencyType": "SOFT"},
        },
        "Manifests": [
            {
                "Platform": platform_for(spec),
                "Lifecycle": {
                    "Run": {"Script": scripts["Run"]},
                    "Shutdown": {"Script": scripts["Shutdown"], "Timeout": 15},
                },
                "Artifacts": [
                    {
                        "URI": uri,
                        "Unarchive": "ZIP",
                        "Permission": {"Read": "ALL", "Execute": "NONE"},
                        "Digest": artifact.digest,
                        "Algorithm": "SHA-256",
                    }
                ],
            }
        ],
    }
