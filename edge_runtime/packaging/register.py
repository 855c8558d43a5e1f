"""Register a published component with AWS IoT Greengrass V2 and wait until it can be deployed.

`CreateComponentVersion(inlineRecipe=...)` makes the cloud read the recipe, fetch every artifact from
S3 and recompute its digest; the version is usable once `DescribeComponent` reports `DEPLOYABLE`
(`FAILED` carries a per-artifact error map). A name and version can be created once: the service
answers ConflictException, which becomes AlreadyExists here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional

from edge_runtime.errors import AlreadyExists, InvalidArgument, RegistrationError

DEPLOYABLE = "DEPLOYABLE"
FAILED_STATES = ("FAILED", "DEPRECATED")


@dataclass(frozen=True)
class RegisterSettings:
    timeout_s: float = 300.0
    poll_s: float = 2.0

    def __post_init__(self) -> None:
        if self.timeout_s <= 0 or self.poll_s <= 0:
            raise InvalidArgument("registration timeout and poll interval must be > 0")


def register_component(client: Any, recipe: bytes, tags: Optional[Dict[str, str]] = None,
                       settings: Optional[RegisterSettings] = None,
                       sleep: Callable[[float], None] = time.sleep) -> str:
    """Create the component version and wait for DEPLOYABLE; returns the component version ARN."""
    from botocore.exceptions import BotoCoreError, ClientError

    settings = settings or RegisterSettings()
    kwargs: Dict[str, Any] = {"inlineRecipe": recipe}
    if tags:
        kwargs["tags"] = dict(tags)
    try:
        created = client.create_component_version(**kwargs)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        message = exc.response.get("Error", {}).get("Message", str(exc))
        if code == "ConflictException":
            raise AlreadyExists("Greengrass already has this component version: %s" % message) from exc
        raise RegistrationError("CreateComponentVersion failed (%s): %s" % (code, message)) from exc
    except BotoCoreError as exc:
        raise RegistrationError("CreateComponentVersion could not reach Greengrass: %s" % exc) from exc
    arn = created["arn"]
    return wait_deployable(client, arn, created.get("status") or {}, settings, sleep)


def wait_deployable(client: Any, arn: str, status: Dict[str, Any], settings: RegisterSettings,
                    sleep: Callable[[float], None] = time.sleep) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    deadline = time.monotonic() + settings.timeout_s
    while True:
        state = status.get("componentState", "")
        if state == DEPLOYABLE:
            return arn
        if state in FAILED_STATES:
            errors = status.get("errors") or {}
            detail = "; ".join("%s: %s" % kv for kv in sorted(errors.items())) or status.get("message", "")
            raise RegistrationError("Greengrass marked %s %s: %s" % (arn, state, detail))
        if time.monotonic() >= deadline:
            raise RegistrationError("%s was still %s after %.0f s" % (arn, state or "unknown", settings.timeout_s))
        sleep(settings.poll_s)
        try:
            status = client.describe_component(arn=arn).get("status") or {}
        except (BotoCoreError, ClientError) as exc:
            raise RegistrationError("DescribeComponent %s failed: %s" % (arn, exc)) from exc


def delete_component(client: Any, arn: str) -> Optional[str]:
    """Best-effort removal after a later step failed; returns an error text or None."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        client.delete_component(arn=arn)
    except (BotoCoreError, ClientError) as exc:
        return str(exc)
    return None
