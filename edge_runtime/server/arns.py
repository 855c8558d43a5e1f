"""ARNs in AWS's format for this server's region and account."""

from __future__ import annotations

import re
from dataclasses import dataclass

from edge_runtime.errors import InvalidArgument

_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_ACCOUNT = re.compile(r"^\d{12}$")
_ARN = re.compile(r"^arn:aws:lookoutvision:(?P<region>[^:]+):(?P<account>\d{12}):(?P<kind>project|model)/"
                  r"(?P<project>[^/]+)(/(?P<version>[^/]+))?$")


@dataclass(frozen=True)
class ArnScope:
    """Region and account the server presents itself as (AWS's defaults for examples)."""

    region: str = "us-east-1"
    account: str = "123456789012"

    def __post_init__(self) -> None:
        if not _REGION.match(self.region):
            raise InvalidArgument("region must look like us-east-1, got %r" % self.region)
        if not _ACCOUNT.match(self.account):
            raise InvalidArgument("account must be 12 digits, got %r" % self.account)

    def project(self, name: str) -> str:
        return "arn:aws:lookoutvision:%s:%s:project/%s" % (self.region, self.account, name)

    def model(self, project: str, version: int) -> str:
        return "arn:aws:lookoutvision:%s:%s:model/%s/%d" % (self.region, self.account, project, version)

    def component_version(self, name: str, version: str) -> str:
        return "arn:aws:greengrass:%s:%s:components:%s:versions:%s" % (self.region, self.account, name, version)


@dataclass(frozen=True)
class ParsedArn:
    kind: str  # "project" or "model"
    project: str
    version: str | None


def parse_arn(arn: str, scope: ArnScope) -> ParsedArn | None:
    """The resource an ARN of this server names, or None when it is not one of ours."""
    match = _ARN.match(arn)
    if not match or match.group("region") != scope.region or match.group("account") != scope.account:
        return None
    if (match.group("kind") == "model") != (match.group("version") is not None):
        return None
    return ParsedArn(match.group("kind"), match.group("project"), match.group("version"))
