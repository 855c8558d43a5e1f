"""Access keys for the server: read from a file or the environment, or generated once and kept.

The generated pair is written as an AWS shared-credentials file (profile `edge-runtime`, mode 0600)
so boto3 scripts use it with `AWS_SHARED_CREDENTIALS_FILE=<file> AWS_PROFILE=edge-runtime` or by
copying the two lines. Used by the CLI only; the server itself takes an AuthConfig.
"""

from __future__ import annotations

import configparser
import os
import secrets
import string

from edge_runtime.errors import InvalidArgument

PROFILE = "edge-runtime"
ENV_KEYS = "EDGE_RUNTIME_SERVER_ACCESS_KEYS"
_ID_ALPHABET = string.ascii_uppercase + string.digits


def parse_access_keys(text: str, where: str) -> dict[str, str]:
    """`ID:SECRET` or `ID SECRET` per line or comma-separated item; an AWS credentials file also works."""
    if "[" in text and "aws_access_key_id" in text:
        parser = configparser.ConfigParser()
        parser.read_string(text)
        keys = {parser[s]["aws_access_key_id"].strip(): parser[s].get("aws_secret_access_key", "").strip()
                for s in parser.sections() if "aws_access_key_id" in parser[s]}
    else:
        keys = {}
        for item in text.replace(",", "\n").splitlines():
            item = item.strip()
            if not item or item.startswith("#"):
                continue
            key_id, _, secret = item.replace(":", " ", 1).partition(" ")
            keys[key_id.strip()] = secret.strip()
    if not keys or not all(keys.values()):
        raise InvalidArgument("%s: expected access keys as 'ID:SECRET' lines (or an AWS credentials file), "
                              "found none or a key without its secret" % where)
    return keys


def read_access_keys(path: str) -> dict[str, str]:
    with open(path, encoding="utf-8") as handle:
        return parse_access_keys(handle.read(), path)


def load_or_create(path: str) -> dict[str, str]:
    """The server's own key pair under its data folder; created (0600) on the first start."""
    if os.path.isfile(path):
        return read_access_keys(path)
    key_id = "AKIA" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(16))
    secret = secrets.token_urlsafe(30)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n" % (PROFILE, key_id, secret))
    os.replace(tmp, path)
    return {key_id: secret}
