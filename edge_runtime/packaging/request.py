"""A packaging job request: Lookout's StartModelPackagingJob input as small frozen dataclasses.

Everything is validated on creation, so a request that exists is one the job runner may accept; what
only the compiler can judge (the content of CompilerOptions) is checked by the compiler when the job is
created. `configuration()` gives the Lookout-shaped `Configuration.Greengrass` that Describe returns.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

from edge_runtime.errors import InvalidArgument
from edge_runtime.packaging import rules

RECIPE_FORMATS = ("json", "yaml")


@dataclass(frozen=True)
class TargetPlatform:
    """Lookout's TargetPlatform: Os LINUX, Arch ARM64 | X86_64, optional Accelerator NVIDIA."""

    os: str
    arch: str
    accelerator: Optional[str] = None

    def __post_init__(self) -> None:
        if self.os not in rules.TARGET_OS:
            raise InvalidArgument("TargetPlatform Os must be LINUX, got %r" % self.os)
        if self.arch not in rules.TARGET_ARCH:
            raise InvalidArgument("TargetPlatform Arch must be ARM64 or X86_64, got %r" % self.arch)
        if self.accelerator is not None and self.accelerator not in rules.TARGET_ACCELERATORS:
            raise InvalidArgument("TargetPlatform Accelerator must be NVIDIA or absent, got %r" % self.accelerator)

    @classmethod
    def parse(cls, text: str) -> "TargetPlatform":
        """`Os=LINUX,Arch=ARM64,Accelerator=NVIDIA` (keys as Lookout spells them)."""
        values = rules.parse_key_values([p.strip() for p in text.split(",") if p.strip()], "--target-platform")
        unknown = sorted(set(values) - {"Os", "Arch", "Accelerator"})
        if unknown or "Os" not in values or "Arch" not in values:
            raise InvalidArgument(
                "--target-platform must be Os=LINUX,Arch=ARM64|X86_64[,Accelerator=NVIDIA], got %r" % text
            )
        return cls(os=values["Os"], arch=values["Arch"], accelerator=values.get("Accelerator"))

    def to_dict(self) -> Dict[str, str]:
        data = {"Os": self.os, "Arch": self.arch}
        if self.accelerator:
            data["Accelerator"] = self.accelerator
        return data


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
    component_version: Optional[str] = None  # default: <model version>.0.0
    component_description: Optional[str] = None
    target_device: Optional[str] = None
    target_platform: Optional[TargetPlatform] = None
    compiler_options: Optional[str] = None  # a JSON string, as Lookout took it
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
        self._check_target()
        if self.recipe_format not in RECIPE_FORMATS:
            raise InvalidArgument("recipe format must be json or yaml, got %r" % self.recipe_format)

    def _check_target(self) -> None:
        if (self.target_device is None) == (self.target_platform is None):
            raise InvalidArgument("give exactly one of --target-device or --target-platform")
        if self.target_device is not None and self.target_device not in rules.TARGET_DEVICES:
            raise InvalidArgument("TargetDevice must be jetson_xavier, got %r" % self.target_device)
        if self.compiler_options is not None:
            if self.target_device is not None:
                raise InvalidArgument("CompilerOptions are not allowed with TargetDevice; use TargetPlatform")
            if not 3 <= len(self.compiler_options) <= 1024:
                raise InvalidArgument(
                    "CompilerOptions must be a JSON string of 3-1024 characters, got %d" % len(self.compiler_options)
                )
        if self.jetpack is not None and not self.targets_jetson:
            raise InvalidArgument("--jetpack only applies to ARM64 NVIDIA targets (Jetson)")

    @property
    def targets_jetson(self) -> bool:
        platform = self.target_platform
        return self.target_device == "jetson_xavier" or (
            platform is not None and platform.arch == "ARM64" and platform.accelerator == "NVIDIA"
        )

    @property
    def greengrass_architecture(self) -> str:
        """The `architecture` a device reports: aarch64 on 64-bit ARM, amd64 on x86-64."""
        if self.target_device is not None or (self.target_platform and self.target_platform.arch == "ARM64"):
            return "aarch64"
        return "amd64"

    def configuration(self) -> Dict[str, Any]:
        """Lookout's ModelPackagingConfiguration.Greengrass for this request (as given, before defaults)."""
        data: Dict[str, Any] = {"ComponentName": self.component_name}
        if self.output.is_s3:
            data["S3OutputLocation"] = self.output.to_dict()
        else:
            data["LocalOutputLocation"] = self.output.to_dict()
        optional = {
            "ComponentVersion": self.component_version,
            "ComponentDescription": self.component_description,
            "TargetDevice": self.target_device,
            "CompilerOptions": self.compiler_options,
        }
        data.update({k: v for k, v in optional.items() if v is not None})
        if self.target_platform is not None:
            data["TargetPlatform"] = self.target_platform.to_dict()
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
