"""The `EdgeRuntime.Agent` component: our wheel plus a recipe that installs and runs the agent.

Install (runs on every nucleus start, so it must be cheap when nothing changed) creates a virtual
environment `{work:path}/venv-<wheel sha256[:12]>` with `--system-site-packages` (JetPack's tensorrt
lives in the system site-packages) and pip-installs the wheel with the platform's extras; a stamp file
holding the wheel's digest and the extras makes a repeated Install a no-op. Run writes the component
configuration's `agent` object to `{work:path}/agent-config.json` (passed through an environment
variable, so no shell quoting can break the JSON) and execs `edge-runtime agent`; Greengrass' SIGTERM
therefore reaches the agent itself, which drains and exits.

Test-only shortcut: when `EDGE_RUNTIME_TEST_SITE_PACKAGES` is set in the nucleus' environment, Install
installs the wheel with `--no-deps --no-index` and adds that path to the venv with a .pth file, so the
end-to-end test reuses the dependencies already installed on the build machine instead of downloading
them. No real device sets it; without it the recipe installs the wheel with its dependencies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Tuple

from edge_runtime.errors import InvalidArgument
from edge_runtime.packaging import rules
from edge_runtime.packaging.artifacts import Artifact
from edge_runtime.packaging.model_component import AGENT_COMPONENT, PUBLISHER
from edge_runtime.packaging.recipes import RECIPE_FORMAT_VERSION

TEST_SITE_ENV = "EDGE_RUNTIME_TEST_SITE_PACKAGES"
DEFAULT_SOCKET = "unix:///tmp/aws.iot.lookoutvision.EdgeAgent.sock"
INSTALL_TIMEOUT_S = 1200  # pip installing onnxruntime and friends on a Jetson takes minutes
IPC_TOPICS = ["edge-runtime/*"]
# (platform, extras): the first manifest whose platform matches the device wins.
PLATFORMS: Tuple[Tuple[Dict[str, str], str], ...] = (
    ({"os": "linux", "architecture": "aarch64"}, "agent,gpu"),  # Jetson: TensorRT from JetPack
    ({"os": "linux", "architecture": "amd64", "accelerator": "nvidia"}, "agent,gpu"),
    ({"os": "linux", "architecture": "amd64"}, "agent,openvino"),  # x86 CPU: compiled builds on OpenVINO
)

_INSTALL = """set -eu
VENV='{work:path}/venv-%(tag)s'
WHEEL='{artifacts:path}/%(wheel)s'
STAMP="$VENV/.edge-runtime-installed"
WANT='%(sha)s [%(extras)s]'
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; then echo "edge-runtime %(tag)s already installed"; exit 0; fi
rm -rf "$VENV"
'{configuration:/pythonCommand}' -m venv --system-site-packages "$VENV"
if [ -n "${%(test_env)s-}" ]; then
  SITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  printf '%%s\\n' "$%(test_env)s" > "$SITE/edge_runtime_test_deps.pth"
  "$VENV/bin/python" -m pip install --no-deps --no-index "$WHEEL"
else
  "$VENV/bin/python" -m pip install "$WHEEL[%(extras)s]"
fi
printf '%%s\\n' "$WANT" > "$STAMP"
"""
_RUN = """set -eu
VENV='{work:path}/venv-%(tag)s'
for OLD in '{work:path}'/venv-*; do [ "$OLD" = "$VENV" ] || rm -rf "$OLD"; done
ROOT='{configuration:/modelsRoot}'
case "$ROOT" in ''|'{'*) ROOT='{work:path}/models' ;; esac
mkdir -p "$ROOT"
printf '%%s\\n' "$EDGE_RUNTIME_AGENT_CONFIG" > '{work:path}/agent-config.json'
exec "$VENV/bin/edge-runtime" agent --socket '{configuration:/socket}' --models-root "$ROOT" \\
  --config '{work:path}/agent-config.json'
"""


def default_configuration() -> Dict[str, Any]:
    """DefaultConfiguration: what a deployment may change (merge) per device or fleet.

    `agent` is the agent's own config file content (sections server, batching, models, greengrass);
    socket and modelsRoot sit at the top so model components can read modelsRoot across components.
    """
    return {
        "socket": DEFAULT_SOCKET,
        "modelsRoot": "",
        "pythonCommand": "python3",
        "agent": {
            "server": {"socket_mode": "0660", "grace_period_s": 10, "tcp_address": "", "tls_cert": "",
                       "tls_key": "", "tls_client_ca": ""},
            "batching": {"max_batch_size": 8, "max_wait_ms": 2, "queue_size": 64},
            "greengrass": {"publish_topic": "", "anomalies_only": False, "target": "local"},
        },
        "accessControl": {
            "aws.greengrass.ipc.pubsub": {
                AGENT_COMPONENT + ":pubsub:1": {
                    "policyDescription": "Publish detection results on local pub/sub",
                    "operations": ["aws.greengrass#PublishToTopic"],
                    "resources": IPC_TOPICS,
                }
            },
            "aws.greengrass.ipc.mqttproxy": {
                AGENT_COMPONENT + ":mqttproxy:1": {
                    "policyDescription": "Publish detection results to AWS IoT Core",
                    "operations": ["aws.greengrass#PublishToIoTCore"],
                    "resources": IPC_TOPICS,
                }
            },
        },
    }


@dataclass(frozen=True)
class AgentComponentSpec:
    version: str
    wheel_sha256_hex: str
    description: str = "edge-runtime agent: the Lookout for Vision Edge Agent API over a Unix socket."

    def __post_init__(self) -> None:
        rules.check_component_version(self.version, lookout=False)
        if len(self.wheel_sha256_hex) != 64:
            raise InvalidArgument("wheel_sha256_hex must be 64 hex digits, got %r" % self.wheel_sha256_hex)


def lifecycle(spec: AgentComponentSpec, wheel_file: str, extras: str) -> Dict[str, Any]:
    values = {"tag": spec.wheel_sha256_hex[:12], "wheel": wheel_file, "sha": spec.wheel_sha256_hex,
              "extras": extras, "test_env": TEST_SITE_ENV}
    return {
        "Install": {
            "Script": _INSTALL % values,
            "Timeout": INSTALL_TIMEOUT_S,
            "Setenv": {"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"},
        },
        "Run": {
            "Script": _RUN % values,
            "Setenv": {"EDGE_RUNTIME_AGENT_CONFIG": "{configuration:/agent}"},
        },
    }


def agent_recipe(spec: AgentComponentSpec, wheel: Artifact, uri: str) -> Dict[str, Any]:
    manifests: List[Dict[str, Any]] = []
    for platform, extras in PLATFORMS:
        manifests.append({
            "Platform": dict(platform),
            "Lifecycle": lifecycle(spec, wheel.file_name, extras),
            "Artifacts": [{"URI": uri, "Unarchive": "NONE", "Permission": {"Read": "OWNER", "Execute": "NONE"},
                           "Digest": wheel.digest, "Algorithm": "SHA-256"}],
        })
    return {
        "RecipeFormatVersion": RECIPE_FORMAT_VERSION,
        "ComponentName": AGENT_COMPONENT,
        "ComponentVersion": spec.version,
        "ComponentDescription": spec.description,
        "ComponentPublisher": PUBLISHER,
        "ComponentConfiguration": {"DefaultConfiguration": default_configuration()},
        "Manifests": manifests,
    }
