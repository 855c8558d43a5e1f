"""`edge-runtime package agent`: build our wheel and publish the EdgeRuntime.Agent component.

Same publishing order and clean-up as model components (publish.py). The component version defaults
to the wheel's version; Greengrass needs it to be a semantic version.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from edge_runtime.digests import sha256_hex
from edge_runtime.errors import InvalidArgument
from edge_runtime.packaging import rules
from edge_runtime.packaging.agent_component import AgentComponentSpec, agent_recipe
from edge_runtime.packaging.artifacts import Artifact
from edge_runtime.packaging.destinations import S3Settings, open_destination
from edge_runtime.packaging.model_component import AGENT_COMPONENT
from edge_runtime.packaging.publish import PublishResult, publish_component
from edge_runtime.packaging.register import RegisterSettings, register_component
from edge_runtime.packaging.request import RECIPE_FORMATS, OutputLocation
from edge_runtime.packaging.wheel import build_wheel, wheel_version

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class AgentPackageRequest:
    output: OutputLocation
    component_version: Optional[str] = None  # default: the wheel's version
    wheel: Optional[str] = None  # a built wheel; default: build one from this source tree
    register: bool = False
    recipe_format: str = "json"
    tags: tuple = ()

    def __post_init__(self) -> None:
        if self.component_version is not None:
            rules.check_component_version(self.component_version, lookout=False)
        if self.recipe_format not in RECIPE_FORMATS:
            raise InvalidArgument("recipe format must be json or yaml, got %r" % self.recipe_format)
        if self.register and not self.output.is_s3:
            raise InvalidArgument("--register needs --s3-output: Greengrass fetches artifacts from S3 only")
        rules.check_tags(dict(self.tags))


@dataclass(frozen=True)
class AgentServices:
    s3: S3Settings = field(default_factory=S3Settings)
    register: RegisterSettings = field(default_factory=RegisterSettings)
    greengrass_client: Optional[Callable[[], Any]] = None
    progress: Callable[[str], None] = LOG.info


def package_agent(request: AgentPackageRequest, services: Optional[AgentServices] = None) -> PublishResult:
    services = services or AgentServices()
    work = tempfile.mkdtemp(prefix="edge-agent-package-")
    try:
        if request.wheel:
            wheel_path = os.path.join(work, os.path.basename(request.wheel))
            shutil.copyfile(request.wheel, wheel_path)
        else:
            services.progress("building the edge-runtime wheel")
            wheel_path = build_wheel(os.path.join(work, "wheel"))
        version = request.component_version or wheel_version(wheel_path)
        rules.check_component_version(version, lookout=False)
        wheel = Artifact.of(wheel_path)
        spec = AgentComponentSpec(version=version, wheel_sha256_hex=sha256_hex(wheel_path))
        registrar = None
        if request.register:
            client = (services.greengrass_client or (lambda: services.s3.client("greengrassv2")))()
            tags = dict(request.tags)
            registrar = lambda recipe: register_component(client, recipe, tags, services.register)  # noqa: E731
        return publish_component(open_destination(request.output, services.s3), AGENT_COMPONENT, version, [wheel],
                                 lambda uris: agent_recipe(spec, wheel, uris[wheel.file_name]),
                                 request.recipe_format, registrar, services.progress)
    finally:
        shutil.rmtree(work, ignore_errors=True)
