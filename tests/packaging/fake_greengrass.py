"""A fake AWS IoT Greengrass V2 control plane on 127.0.0.1, for `--register` tests.

moto (5.2.5 here) implements Greengrass v1 only, so this stands in for the real service. It speaks
the real rest-json wire protocol (botocore's greengrassv2 model: POST /greengrass/v2/createComponentVersion,
GET /greengrass/v2/components/{arn}/metadata, DELETE /greengrass/v2/components/{arn}), so the code under
test uses an unmodified boto3 client. Like the service it parses the inline recipe, refuses a name and
version that exist (409 ConflictException), then fetches every S3 artifact (from the moto server),
recomputes its SHA-256 and reports REQUESTED -> INITIATED -> DEPLOYABLE, or FAILED with a per-URI
error map when an artifact is missing or its digest differs.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, Optional, Tuple

import yaml

ACCOUNT = "123456789012"


class FakeGreengrass:
    def __init__(self, s3_client: Any, region: str = "us-east-1") -> None:
        self.s3 = s3_client
        self.region = region
        self.components: Dict[str, Dict[str, Any]] = {}
        self.calls: list = []
        self._server: Optional[ThreadingHTTPServer] = None

    def start(self) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _reply(self, code: int, body: Optional[Dict[str, Any]] = None, error: str = "") -> None:
                data = json.dumps(body or {}).encode("utf-8")
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                if error:
                    self.send_header("x-amzn-ErrorType", error)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path.startswith("/greengrass/v2/createComponentVersion"):
                    self._reply(*fake.create(body))
                else:
                    self._reply(404, {"message": "no route " + self.path}, "ResourceNotFoundException")

            def do_GET(self) -> None:  # noqa: N802
                arn = _arn_from(self.path, "/metadata")
                self._reply(*fake.describe(arn))

            def do_DELETE(self) -> None:  # noqa: N802
                arn = _arn_from(self.path, "")
                fake.calls.append(("delete", arn))
                if fake.components.pop(arn, None) is None:
                    self._reply(404, {"message": "no component " + arn}, "ResourceNotFoundException")
                else:
                    self._reply(204)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return "http://127.0.0.1:%d" % self._server.server_address[1]

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def arn(self, name: str, version: str) -> str:
        return "arn:aws:greengrass:%s:%s:components:%s:versions:%s" % (self.region, ACCOUNT, name, version)

    def create(self, body: Dict[str, Any]) -> Tuple[int, Dict[str, Any], str]:
        text = base64.b64decode(body["inlineRecipe"]).decode("utf-8")
        recipe = yaml.safe_load(text)  # JSON is YAML too
        name, version = recipe["ComponentName"], recipe["ComponentVersion"]
        arn = self.arn(name, version)
        self.calls.append(("create", arn, body.get("tags") or {}))
        if arn in self.components:
            message = "Component %s version %s already exists" % (name, version)
            return 409, {"message": message, "resourceId": arn, "resourceType": "ComponentVersion"}, "ConflictException"
        errors = self._check_artifacts(recipe)
        final = {"componentState": "FAILED", "message": "artifact check failed", "errors": errors} if errors else \
            {"componentState": "DEPLOYABLE", "message": "NONE"}
        self.components[arn] = {"recipe": recipe, "tags": body.get("tags") or {}, "polls": 0, "final": final,
                                "created": time.time()}
        return 201, {"arn": arn, "componentName": name, "componentVersion": version,
                     "creationTimestamp": time.time(), "status": {"componentState": "REQUESTED"}}, ""

    def _check_artifacts(self, recipe: Dict[str, Any]) -> Dict[str, str]:
        errors = {}
        for manifest in recipe.get("Manifests", []):
            for artifact in manifest.get("Artifacts", []):
                uri = artifact["URI"]
                bucket, _, key = uri[len("s3://"):].partition("/")
                try:
                    data = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                except Exception as exc:  # noqa: BLE001 - any S3 failure is an artifact error to the service
                    errors[uri] = "cannot read artifact: %s" % exc
                    continue
                digest = base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")
                if digest != artifact.get("Digest"):
                    errors[uri] = "digest mismatch: computed %s" % digest
        return errors

    def describe(self, arn: str) -> Tuple[int, Dict[str, Any], str]:
        entry = self.components.get(arn)
        if entry is None:
            return 404, {"message": "no component " + arn}, "ResourceNotFoundException"
        entry["polls"] += 1
        status = {"componentState": "INITIATED"} if entry["polls"] < 2 else entry["final"]
        recipe = entry["recipe"]
        return 200, {"arn": arn, "componentName": recipe["ComponentName"],
                     "componentVersion": recipe["ComponentVersion"], "creationTimestamp": entry["created"],
                     "publisher": recipe.get("ComponentPublisher", ""), "status": status,
                     "tags": entry["tags"]}, ""


def _arn_from(path: str, suffix: str) -> str:
    rest = path[len("/greengrass/v2/components/"):]
    if suffix and rest.endswith(suffix):
        rest = rest[: -len(suffix)]
    return urllib.parse.unquote(rest)
