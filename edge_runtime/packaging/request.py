"""A packaging job request: Lookout's StartModelPackagingJob input as small frozen dataclasses.

Everything is validated on creation, so a request that exists is one the job runner may accept. The
target arrives already parsed: the edges (CLI, REST server) turn TargetDevice / TargetPlatform /
CompilerOptions into the compiler's `CompileTarget` with `compiler.targets.validate_target`, the one set
of rules and messages. `configuration()` gives the Lookout-shaped `Configuration.Greengrass` that
Describe returns.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

from edge_runtime.compiler.options import TargetKind
from edge_runtime.compiler.targets import CompileTarget, TargetArch
from edge_runtime.errors import InvalidArgument
from edge_runtime.packaging import rules

RECIPE_FORMATS = ("json", "yaml")


@dataclass(frozen=True)
class OutputLocation:
    """Where the component goes: `s3://bucket/prefix` or a local folder with the same layout."""

    bucket: str = ""
    prefix: str = ""
    local_dir: str = ""

    def __post_init__(self) -> None:
        if bool(self.bucket) == bool(self.local_dir):
            raise InvalidArgument("give exactly one output: --s3-output s3://bucket/prefix or --output-dir DIR")
        if self.bucket:
            rules.check_s3_location(self.bucket, self.prefix)

    @classmethod
    def parse(cls, s3_output: Optional[str] = None, output_dir: Optional[str] = None) -> "OutputLocation":
        if s3_output and output_dir:
            raise InvalidArgument("--s3-output and --output-dir exclude each other; give one")
        if output_dir:
            return cls(local_dir=os.path.abspath(output_dir))
        if not s3_output or not s3_output.startswith("s3://"):
            raise InvalidArgument("--s3-output must look like s3://bucket/prefix, got %r" % (s3_output,))
        bucket, _, prefix = s3_output[len("s3://") :].partition("/")
        return cls(bucket=bucket, prefix=prefix.strip("/"))

    @property
    def is_s3(self) -> bool:
        return bool(self.bucket)

    def to_dict(self) -> Dict[str, str]:
        if self.is_s3:
            return {"Bucket": self.bucket, "Prefix": self.prefix}
        return {"LocalPath": self.local_dir}

    def describe(self) -> str:
        return "s3://%s/%s" % (self.bucket, self.prefix) if self.is_s3 else self.local_dir


@dataclass(frozen=True)
class PackagingRequest:
    """StartModelPackagingJob for one model package folder."""

    model_dir: str
    component_name: str
    output: OutputLocation
    target: CompileTarget  # parsed at the edge (compiler.targets.validate_target)
    component_version: Optional[str] = None  # default: <model version>.0.0
    component_description: Optional[str] = None
    tags: Tuple[Tuple[str, str], ...] = ()
    job_name: Optional[str] = None
    description: Optional[str] = None
    client_token: Optional[str] = None
    register: bool = False
    jetpack: Optional[str] = None  # platform attribute that tells JetPack releases apart (see README)
    recipe_format: str = "json"

    def __post_init__(self) -> None:
        rules.check_component_name(self.component_name)
        if self.component_version is not None:
            rules.check_component_version(self.component_version)
        rules.check_description(self.component_description)
        rules.check_description(self.description, "Description")
        if self.job_name is not None:
            rules.check_job_name(self.job_name)
        rules.check_client_token(self.client_token)
        rules.check_tags(dict(self.tags))
        if self.jetpack is not None and not self.targets_jetson:
            raise InvalidArgument("--jetpack only applies to ARM64 NVIDIA targets (Jetson)")
        if self.recipe_format not in RECIPE_FORMATS:
            raise InvalidArgument("recipe format must be json or yaml, got %r" % self.recipe_format)

    @property
    def targets_jetson(self) -> bool:
        return self.target.arch == TargetArch.ARM64 and self.target.kind == TargetKind.NVIDIA

    @property
    def greengrass_architecture(self) -> str:
        """The `architecture` a device reports: aarch64 on 64-bit ARM, amd64 on x86-64."""
        return "aarch64" if self.target.arch == TargetArch.ARM64 else "amd64"

    def configuration(self) -> Dict[str, Any]:
        """Lookout's ModelPackagingConfiguration.Greengrass for this request (as given, before defaults)."""
        data: Dict[str, Any] = {"ComponentName": self.component_name}
        if self.output.is_s3:
            data["S3OutputLocation"] = self.output.to_dict()
        else:
            data["LocalOutputLocation"] = self.output.to_dict()
        optional = {"ComponentVersion": self.component_version, "ComponentDescription": self.component_description}
        data.update({k: v for k, v in optional.items() if v is not None})
        data.update(self.target.lookout_configuration())
        if self.tags:
            data["Tags"] = [{"Key": k, "Value": v} for k, v in self.tags]
        return data

    def fingerprint(self, model_digest: str) -> str:
        """Identity of the request for client-token idempotency: same token + same fingerprint = same job."""
        body = {
            "model": os.path.abspath(self.model_dir),
            "model_digest": model_digest,
            "configuration": self.configuration(),
            "job_name": self.job_name,
            "description": self.description,
            "register": self.register,
            "jetpack": self.jetpack,
            "recipe_format": self.recipe_format,
        }
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode("utf-8")).hexdigest()
