"""Field rules of Lookout's StartModelPackagingJob and of Greengrass recipes, one checker per field.

The patterns are AWS's own (botocore's lookoutvision and greengrassv2 models, and the recipe schema);
each checker raises InvalidArgument naming the field, the rule and the value that arrived, so the CLI,
the job runner and a future HTTP server give the same message for the same mistake.
"""

from __future__ import annotations

import re
from typing import Dict, Iterable, Mapping, Optional, Tuple

from edge_runtime.errors import InvalidArgument

COMPONENT_NAME = re.compile(r"^[a-zA-Z0-9\-_.]{1,128}$")
# Lookout's ComponentVersion: three numbers of at most six digits.
LOOKOUT_COMPONENT_VERSION = re.compile(r"^(\d{1,6})\.(\d{1,6})\.(\d{1,6})$")
# Greengrass accepts semver with pre-release and build parts (the agent's own version may carry them).
SEMVER = re.compile(
    r"^(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})"
    r"(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$"
)
DESCRIPTION = re.compile(r"^[a-zA-Z0-9\-_. ()':,;?]{1,256}$")
JOB_NAME = re.compile(r"^[a-zA-Z0-9-]{1,64}$")
CLIENT_TOKEN = re.compile(r"^[a-zA-Z0-9-]{1,64}$")
BUCKET = re.compile(r"^[0-9A-Za-z.\-_]{3,63}$")
PREFIX = re.compile(r"^([a-zA-Z0-9!_.*'()-][/a-zA-Z0-9!_.*'()-]*)?$")
TAG_TEXT = re.compile(r"^[\w\s.:/=+\-@]*$", re.UNICODE)
MAX_TAGS = 50  # Greengrass allows 200 per resource; Lookout's own jobs capped user tags lower


def check_component_name(name: str) -> str:
    if not isinstance(name, str) or not COMPONENT_NAME.match(name):
        raise InvalidArgument(
            "ComponentName must be 1-128 characters of letters, digits, '-', '_' or '.', got %r" % (name,)
        )
    return name


def check_component_version(version: str, lookout: bool = True) -> str:
    """Lookout's rule (`^\\d{1,6}\\.\\d{1,6}\\.\\d{1,6}$`) for model components, semver for the agent."""
    pattern = LOOKOUT_COMPONENT_VERSION if lookout else SEMVER
    if not isinstance(version, str) or len(version) > 64 or not pattern.match(version):
        expected = "MAJOR.MINOR.PATCH with 1-6 digits each" if lookout else "a semantic version like 1.2.3"
        raise InvalidArgument("ComponentVersion must be %s, got %r" % (expected, version))
    return version


def check_description(text: Optional[str], field: str = "ComponentDescription") -> Optional[str]:
    if text is None:
        return None
    if not DESCRIPTION.match(text):
        raise InvalidArgument(
            "%s must be 1-256 characters of letters, digits, spaces and -_.()':,;? got %r" % (field, text)
        )
    return text


def check_job_name(name: str) -> str:
    if not isinstance(name, str) or not JOB_NAME.match(name):
        raise InvalidArgument("JobName must be 1-64 characters of letters, digits and '-', got %r" % (name,))
    return name


def check_client_token(token: Optional[str]) -> Optional[str]:
    if token is not None and not CLIENT_TOKEN.match(token):
        raise InvalidArgument("ClientToken must be 1-64 characters of letters, digits and '-', got %r" % (token,))
    return token


def check_s3_location(bucket: str, prefix: str) -> Tuple[str, str]:
    if not BUCKET.match(bucket):
        raise InvalidArgument("S3 bucket name must be 3-63 characters of [0-9A-Za-z.-_], got %r" % bucket)
    if len(prefix) > 1024 or not PREFIX.match(prefix):
        raise InvalidArgument(
            "S3 prefix must be at most 1024 characters of letters, digits and /!_.*'()- "
            "(not starting with '/'), got %r" % prefix
        )
    return bucket, prefix


def check_tags(tags: Mapping[str, str]) -> Dict[str, str]:
    """Greengrass TagMap rules; keys starting with `aws:` are reserved by AWS."""
    if len(tags) > MAX_TAGS:
        raise InvalidArgument("at most %d tags are allowed, got %d" % (MAX_TAGS, len(tags)))
    for key, value in tags.items():
        if not 1 <= len(key) <= 128 or not TAG_TEXT.match(key) or key.lower().startswith("aws:"):
            raise InvalidArgument(
                "tag key must be 1-128 letters, digits, spaces or _.:/=+-@ and not start with 'aws:', got %r" % key
            )
        if len(value) > 256 or not TAG_TEXT.match(value):
            raise InvalidArgument(
                "tag %r: value must be 0-256 letters, digits, spaces or _.:/=+-@, got %r" % (key, value)
            )
    return dict(tags)


def parse_key_values(items: Iterable[str], what: str) -> Dict[str, str]:
    """`K=V` strings from the command line into a dict; a repeated key is an error, not a silent overwrite."""
    result: Dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidArgument("%s must look like KEY=VALUE, got %r" % (what, item))
        if key in result:
            raise InvalidArgument("%s key %r given twice" % (what, key))
        result[key] = value
    return result


def version_requirement_for(version: str) -> str:
    """npm-style range accepting this version and later ones of the same major (0.x: below 1.0.0)."""
    match = SEMVER.match(version)
    if not match:
        raise InvalidArgument("cannot derive a version range from %r" % version)
    major, minor = int(match.group(1)), int(match.group(2))
    return ">=%d.%d.0 <%d.0.0" % (major, minor, major + 1)
