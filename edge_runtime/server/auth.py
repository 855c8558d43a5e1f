"""AWS Signature Version 4 verification (header form), from the public algorithm.

The server recomputes the signature from the request it received: canonical request (method, URI
encoded once more, sorted query, the signed headers, the payload hash), string to sign, and the HMAC
chain from the secret of the access key the request names. Unsigned, unknown-key, stale or wrongly
signed requests raise AccessDeniedException; a credential scoped to another region than the server's
raises InvalidSignatureException (403, AWS's message), as AWS's endpoints do.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from dataclasses import dataclass, field
from typing import Mapping
from urllib.parse import quote, unquote

from edge_runtime.errors import InvalidArgument
from edge_runtime.server.errors import access_denied, wrong_region

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
MAX_SKEW = dt.timedelta(minutes=15)  # what AWS allows between the client's clock and its own
_AUTH = re.compile(r"^AWS4-HMAC-SHA256\s+(.*)$", re.DOTALL)
_ACCESS_KEY = re.compile(r"^[A-Za-z0-9]{3,128}$")


@dataclass(frozen=True)
class AuthConfig:
    """Access keys the server accepts (id -> secret) and the service name requests must be signed for.

    `enabled=False` turns checking off; the server only allows that when bound to loopback.
    """

    access_keys: Mapping[str, str] = field(default_factory=dict)
    service: str = "lookoutvision"
    enabled: bool = True

    def __post_init__(self) -> None:
        if self.enabled and not self.access_keys:
            raise InvalidArgument("authentication is on but no access keys are configured")
        for key_id, secret in self.access_keys.items():
            if not _ACCESS_KEY.match(key_id) or not secret:
                raise InvalidArgument("access key ids must be 3-128 letters or digits with a non-empty secret, "
                                      "got %r" % key_id)


@dataclass(frozen=True)
class SignedRequest:
    """The parts of an HTTP request that SigV4 covers; header names lower-case, values as received."""

    method: str
    raw_path: str
    raw_query: str
    headers: Mapping[str, list[str]]
    body: bytes


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def _remove_dot_segments(path: str) -> str:
    output: list[str] = []
    for segment in path.split("/")[1:]:
        if segment == "..":
            if output:
                output.pop()
        elif segment != ".":
            output.append(segment)
    normalized = "/" + "/".join(output)
    if path.endswith("/") and not normalized.endswith("/"):
        normalized += "/"
    return normalized


def canonical_uri(raw_path: str) -> str:
    """Non-S3 services encode the already encoded path once more."""
    return quote(_remove_dot_segments(raw_path or "/"), safe="/~")


def canonical_query(raw_query: str) -> str:
    pairs = []
    for item in raw_query.split("&") if raw_query else ():
        key, _, value = item.partition("=")
        pairs.append((quote(unquote(key), safe="-_.~"), quote(unquote(value), safe="-_.~")))
    return "&".join("%s=%s" % pair for pair in sorted(pairs))


def _header_value(values: list[str]) -> str:
    return ",".join(" ".join(v.split()) for v in values)


def parse_authorization(header: str) -> dict[str, str]:
    """`AWS4-HMAC-SHA256 Credential=.., SignedHeaders=.., Signature=..` -> its three parts."""
    match = _AUTH.match(header.strip())
    if not match:
        raise access_denied("expected an Authorization header with AWS Signature Version 4 (%s)" % ALGORITHM)
    parts = {}
    for item in match.group(1).split(","):
        key, _, value = item.strip().partition("=")
        parts[key] = value.strip()
    if not all(parts.get(k) for k in ("Credential", "SignedHeaders", "Signature")):
        raise access_denied("the Authorization header must hold Credential, SignedHeaders and Signature")
    return parts


class SigV4Verifier:
    """Checks one request at a time; stateless apart from its configuration."""

    def __init__(self, config: AuthConfig, region: str) -> None:
        self._config = config
        self._region = region

    def verify(self, request: SignedRequest, now: dt.datetime | None = None) -> str:
        """Return the access key id that signed the request, or raise AccessDeniedException."""
        headers = request.headers
        if "authorization" not in headers:
            raise access_denied("the request is not signed: expected an AWS Signature Version 4 Authorization "
                                "header (configure the client with the server's access key)")
        parts = parse_authorization(headers["authorization"][0])
        key_id, date, region, service = self._credential(parts["Credential"])
        amz_date = self._request_time(headers, date, now or dt.datetime.now(dt.timezone.utc))
        signed = parts["SignedHeaders"].split(";")
        if "host" not in signed:
            raise access_denied("the signature must cover the host header")
        missing = [name for name in signed if name not in headers]
        if missing:
            raise access_denied("signed header(s) %s are missing from the request" % ", ".join(missing))
        canonical = "\n".join([
            request.method.upper(),
            canonical_uri(request.raw_path),
            canonical_query(request.raw_query),
            "".join("%s:%s\n" % (name, _header_value(headers[name])) for name in signed),
            parts["SignedHeaders"],
            self._payload_hash(headers, request.body),
        ])
        scope = "%s/%s/%s/aws4_request" % (date, region, service)
        to_sign = "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode("utf-8")).hexdigest()])
        key = _hmac(("AWS4" + self._config.access_keys[key_id]).encode("utf-8"), date)
        for part in (region, service, "aws4_request"):
            key = _hmac(key, part)
        expected = hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, parts["Signature"]):
            raise access_denied("the request signature does not match the signature the server calculated: "
                                "check the secret access key and the signing method")
        return key_id

    def _credential(self, credential: str) -> tuple[str, str, str, str]:
        pieces = credential.split("/")
        if len(pieces) != 5 or pieces[4] != "aws4_request":
            raise access_denied("Credential must be <key id>/<yyyymmdd>/<region>/<service>/aws4_request, got %r"
                                % credential)
        key_id, date, region, service, _ = pieces
        if key_id not in self._config.access_keys:
            raise access_denied("the access key id %s is not known to this server" % key_id)
        if service != self._config.service:
            raise access_denied("the request is signed for service %r; this server expects %r"
                                % (service, self._config.service))
        if region != self._region:
            raise wrong_region(region)
        return key_id, date, region, service

    @staticmethod
    def _request_time(headers: Mapping[str, list[str]], date: str, now: dt.datetime) -> str:
        amz_date = (headers.get("x-amz-date") or [""])[0]
        try:
            when = dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc)
        except ValueError:
            raise access_denied("expected an X-Amz-Date header like 20250101T000000Z, got %r" % amz_date) from None
        if not amz_date.startswith(date):
            raise access_denied("the credential scope date %s differs from X-Amz-Date %s" % (date, amz_date))
        if abs(now - when) > MAX_SKEW:
            raise access_denied("the request time %s is more than 15 minutes from the server time %s"
                                % (amz_date, now.strftime("%Y%m%dT%H%M%SZ")))
        return amz_date

    @staticmethod
    def _payload_hash(headers: Mapping[str, list[str]], body: bytes) -> str:
        declared = (headers.get("x-amz-content-sha256") or [""])[0]
        actual = hashlib.sha256(body).hexdigest()
        if declared and declared not in (UNSIGNED_PAYLOAD, actual):
            raise access_denied("x-amz-content-sha256 does not match the request body")
        return declared or actual
