"""Run Greengrass component recipes the way the nucleus would, as closely as a build machine allows.

There is no Greengrass nucleus here (it is a Java service needing AWS IoT credentials), so this
harness is the fake that stands in for it, following the nucleus' own code where it matters:

- manifest: the first whose Platform matches the device (`os`, `architecture` and any custom
  attribute such as `jetpack`; "*" or "all" match anything); none matching is a deployment error;
- dependencies: installed and started first; their VersionRequirement (npm-style) is checked;
- artifacts: fetched from S3 (a real S3-protocol server in the tests) or, like `greengrass-cli
  --artifactDir`, from a local `<dir>/<name>/<version>/<file>` layout, into
  `<root>/packages/artifacts/<name>/<version>/`; the Base64 SHA-256 digest is checked and a mismatch
  deletes the file and fails; ZIPs unpack to `artifacts-unarchived/<name>/<version>/<zip name>/`;
  Permission Read/Execute become file modes;
- configuration: DefaultConfiguration deep-merged with the deployment's update (merge semantics);
- variables: the nucleus' two regexes (KernelConfigResolver), `{configuration:/ptr}` (container
  values as compact sorted JSON, missing keys left as they are), `{artifacts:path}`,
  `{artifacts:decompressedPath}`, `{work:path}`, `{kernel:rootPath}`, `{iot:thingName}` and
  `{<direct dependency>:configuration|artifacts|work:...}`;
- lifecycle: Setenv, Skipif (`onpath`, `exists`), Install with its Timeout (120 s default), Run in the
  background (the component counts as RUNNING once it starts), Shutdown on stop after SIGTERM and,
  past the Shutdown timeout, SIGKILL; scripts run with `sh -c` in the work folder, output in
  `<root>/logs/<name>.log`.
Not reproduced: IPC (no SVCUID/domain socket), posix users, Startup/Recover/Bootstrap, retries.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import zipfile
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

SAME = re.compile(r"\{([.\w]+):([^:}]+)\}", re.ASCII)
CROSS = re.compile(r"\{([.\w]+):([.\w]+):([^:}]+)\}", re.ASCII)
DEFAULT_TIMEOUTS = {"install": 120.0, "shutdown": 15.0}


class DeploymentError(RuntimeError):
    """What the nucleus would report as a failed deployment."""


def _ci(mapping: Dict[str, Any], key: str, default: Any = None) -> Any:
    """Recipe keys are case-insensitive."""
    for k, v in (mapping or {}).items():
        if k.lower() == key.lower():
            return v
    return default


def _version(text: str) -> tuple:
    core = text.split("+")[0].split("-")[0]
    return tuple(int(p) for p in core.split("."))


def satisfies(version: str, requirement: str) -> bool:
    """npm-style range: space-separated comparators (>=, >, <=, <, =, ^, ~), all must hold."""
    have = _version(version)
    for comp in requirement.split():
        match = re.match(r"^(>=|<=|>|<|=|\^|~)?v?(\d+(?:\.\d+){0,2})$", comp)
        if not match:
            raise DeploymentError("cannot read version requirement %r" % requirement)
        op, want = match.group(1) or "=", _version(match.group(2))
        want = want + (0,) * (3 - len(want))
        ok = {">=": have >= want, "<=": have <= want, ">": have > want, "<": have < want, "=": have == want,
              "^": have >= want and have[0] == want[0], "~": have >= want and have[:2] == want[:2]}[op]
        if not ok:
            return False
    return True


def deep_merge(base: Dict[str, Any], update: Dict[str, Any]) -> Dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def json_pointer(document: Any, pointer: str) -> Any:
    if pointer == "":
        return document
    node = document
    for raw in pointer.lstrip("/").split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise KeyError(pointer)
    return node


def _as_text(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


@dataclass
class Component:
    name: str
    version: str
    recipe: Dict[str, Any]
    manifest: Dict[str, Any]
    configuration: Dict[str, Any]
    dependencies: List[str]
    run: Optional[subprocess.Popen] = None
    state: str = "NEW"
    lifecycle: Dict[str, Any] = field(default_factory=dict)


class NucleusHarness:
    """A device root and the components deployed into it."""

    def __init__(self, root: str, platform: Optional[Dict[str, str]] = None, thing_name: str = "test-thing",
                 s3_client: Any = None, artifact_dir: Optional[str] = None,
                 env: Optional[Dict[str, str]] = None) -> None:
        self.root = os.path.abspath(root)
        self.platform = platform or {"os": "linux", "architecture": "amd64"}
        self.thing_name = thing_name
        self.s3 = s3_client
        self.artifact_dir = artifact_dir
        self.env = dict(env or {})
        self.components: Dict[str, Component] = {}
        self.order: List[str] = []

    # ----- paths the nucleus uses
    def artifacts_path(self, name: str, version: str) -> str:
        return os.path.join(self.root, "packages", "artifacts", name, version)

    def unarchived_path(self, name: str, version: str) -> str:
        return os.path.join(self.root, "packages", "artifacts-unarchived", name, version)

    def work_path(self, name: str) -> str:
        return os.path.join(self.root, "work", name)

    def log_path(self, name: str) -> str:
        return os.path.join(self.root, "logs", name + ".log")

    # ----- deployment
    def deploy(self, recipes: Sequence[Dict[str, Any]],
               configuration: Optional[Dict[str, Dict[str, Any]]] = None) -> List[str]:
        """Resolve, download, install and start the given recipes, dependencies first; returns the order."""
        by_name = {_ci(r, "ComponentName"): r for r in recipes}
        order = self._order(by_name)
        for name in order:
            component = self._prepare(by_name[name], (configuration or {}).get(name, {}))
            self.components[name] = component
        for name in order:
            self._install_and_start(self.components[name])
            self.order.append(name)
        return order

    def _order(self, by_name: Dict[str, Dict[str, Any]]) -> List[str]:
        order: List[str] = []

        def visit(name: str, path: tuple) -> None:
            if name in order:
                return
            if name in path:
                raise DeploymentError("dependency cycle: %s" % " -> ".join(path + (name,)))
            recipe = by_name.get(name)
            if recipe is None:
                raise DeploymentError("%s is needed by %s but not in the deployment" % (name, path[-1]))
            for dep, spec in (_ci(recipe, "ComponentDependencies") or {}).items():
                if dep not in by_name and dep not in self.components:
                    raise DeploymentError("%s depends on %s, which is not deployed" % (name, dep))
                dep_recipe = by_name.get(dep) or self.components[dep].recipe
                requirement = _ci(spec, "VersionRequirement", "*")
                if requirement not in ("*", "") and not satisfies(_ci(dep_recipe, "ComponentVersion"), requirement):
                    raise DeploymentError("%s needs %s %s, the deployment has %s"
                                          % (name, dep, requirement, _ci(dep_recipe, "ComponentVersion")))
                if dep in by_name:
                    visit(dep, path + (name,))
            order.append(name)

        for name in by_name:
            visit(name, ())
        return order

    def _select_manifest(self, recipe: Dict[str, Any]) -> Dict[str, Any]:
        for manifest in _ci(recipe, "Manifests") or []:
            platform = _ci(manifest, "Platform") or {}
            if all(v in ("*", "all", "any") or self.platform.get(k) == v for k, v in platform.items()):
                return manifest
        raise DeploymentError("no manifest of %s matches platform %s" % (_ci(recipe, "ComponentName"), self.platform))

    def _prepare(self, recipe: Dict[str, Any], update: Dict[str, Any]) -> Component:
        name, version = _ci(recipe, "ComponentName"), _ci(recipe, "ComponentVersion")
        manifest = self._select_manifest(recipe)
        defaults = _ci(_ci(recipe, "ComponentConfiguration") or {}, "DefaultConfiguration") or {}
        component = Component(name=name, version=version, recipe=recipe, manifest=manifest,
                              configuration=deep_merge(defaults, update),
                              dependencies=list((_ci(recipe, "ComponentDependencies") or {}).keys()))
        for artifact in _ci(manifest, "Artifacts") or []:
            self._fetch(component, artifact)
        os.makedirs(self.work_path(name), exist_ok=True)
        return component

    def _fetch(self, component: Component, artifact: Dict[str, Any]) -> None:
        uri = _ci(artifact, "URI")
        file_name = uri.rsplit("/", 1)[-1]
        folder = self.artifacts_path(component.name, component.version)
        os.makedirs(folder, exist_ok=True)
        target = os.path.join(folder, file_name)
        if self.artifact_dir:
            shutil.copyfile(os.path.join(self.artifact_dir, component.name, component.version, file_name), target)
        else:
            bucket, _, key = uri[len("s3://"):].partition("/")
            self.s3.download_file(bucket, key, target)
        self._verify(target, artifact)
        mode = _mode(_ci(artifact, "Permission") or {})
        os.chmod(target, mode)
        if (_ci(artifact, "Unarchive") or "NONE").upper() == "ZIP":
            dest = os.path.join(self.unarchived_path(component.name, component.version), file_name[:-len(".zip")])
            with zipfile.ZipFile(target) as archive:
                archive.extractall(dest)
            for folder_name, _, files in os.walk(dest):
                for f in files:
                    os.chmod(os.path.join(folder_name, f), mode)

    @staticmethod
    def _verify(path: str, artifact: Dict[str, Any]) -> None:
        algorithm, expected = _ci(artifact, "Algorithm"), _ci(artifact, "Digest")
        if not algorithm:
            return  # local recipes may omit digests; cloud recipes always carry them
        if algorithm != "SHA-256":
            raise DeploymentError("unsupported digest algorithm %r" % algorithm)
        with open(path, "rb") as fh:
            actual = base64.b64encode(hashlib.sha256(fh.read()).digest()).decode("ascii")
        if actual != expected:
            os.remove(path)
            raise DeploymentError("integrity check failed for %s: digest %s, recipe says %s" % (path, actual, expected))

    # ----- variables
    def interpolate(self, text: str, component: Component) -> str:
        def same(match: "re.Match[str]") -> str:
            value = self._lookup(component, match.group(1), match.group(2))
            return match.group(0) if value is None else value

        def cross(match: "re.Match[str]") -> str:
            target = match.group(1)
            if target not in component.dependencies or target not in self.components:
                return match.group(0)
            value = self._lookup(self.components[target], match.group(2), match.group(3))
            return match.group(0) if value is None else value

        return CROSS.sub(cross, SAME.sub(same, text))

    def _lookup(self, component: Component, namespace: str, key: str) -> Optional[str]:
        if namespace == "configuration":
            try:
                return _as_text(json_pointer(component.configuration, key))
            except KeyError:
                return None
        system = {
            ("artifacts", "path"): self.artifacts_path(component.name, component.version),
            ("artifacts", "decompressedPath"): self.unarchived_path(component.name, component.version),
            ("work", "path"): self.work_path(component.name),
            ("kernel", "rootPath"): self.root,
            ("iot", "thingName"): self.thing_name,
        }
        return system.get((namespace, key))

    # ----- lifecycle
    def _step(self, component: Component, step: str) -> Optional[Dict[str, Any]]:
        lifecycle = _ci(component.manifest, "Lifecycle") or _ci(component.recipe, "Lifecycle") or {}
        value = _ci(lifecycle, step)
        if value is None:
            return None
        spec = {"script": value} if isinstance(value, str) else {k.lower(): v for k, v in value.items()}
        env = dict(_ci(lifecycle, "Setenv") or {})
        env.update(spec.get("setenv") or {})
        spec["env"] = {k: self.interpolate(str(v), component) for k, v in env.items()}
        spec["script"] = self.interpolate(spec["script"], component)
        return spec

    def _skip(self, spec: Dict[str, Any], component: Component) -> bool:
        skipif = self.interpolate(spec.get("skipif") or "", component).strip()
        if not skipif:
            return False
        kind, _, target = skipif.partition(" ")
        return bool(shutil.which(target.strip())) if kind == "onpath" else os.path.exists(target.strip())

    def _environment(self, component: Component, extra: Dict[str, str]) -> Dict[str, str]:
        env = dict(os.environ)
        env.update(self.env)
        env.update({"AWS_IOT_THING_NAME": self.thing_name, "AWS_REGION": "us-east-1",
                    "AWS_DEFAULT_REGION": "us-east-1", "GGC_VERSION": "2.12.0"})
        env.update(extra)
        return env

    def _popen(self, component: Component, spec: Dict[str, Any]) -> subprocess.Popen:
        os.makedirs(os.path.dirname(self.log_path(component.name)), exist_ok=True)
        with open(self.log_path(component.name), "ab") as log:
            return subprocess.Popen(["sh", "-c", spec["script"]], cwd=self.work_path(component.name),
                                    env=self._environment(component, spec["env"]), stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)

    def _run_to_end(self, component: Component, step: str) -> None:
        spec = self._step(component, step)
        if spec is None or self._skip(spec, component):
            return
        timeout = float(spec.get("timeout") or DEFAULT_TIMEOUTS.get(step, 120.0))
        process = self._popen(component, spec)
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise DeploymentError("%s %s timed out after %.0f s (log %s)"
                                  % (component.name, step, timeout, self.log_path(component.name))) from None
        if code != 0:
            raise DeploymentError("%s %s exited %d; log:\n%s" % (component.name, step, code, self.log(component.name)))

    def _install_and_start(self, component: Component) -> None:
        self._run_to_end(component, "install")
        component.state = "INSTALLED"
        spec = self._step(component, "run")
        if spec is not None and not self._skip(spec, component):
            component.run = self._popen(component, spec)
            component.state = "RUNNING"
        else:
            component.state = "FINISHED"

    def state(self, name: str) -> str:
        """RUNNING while Run runs, FINISHED when it exited 0, ERRORED otherwise (no retries here)."""
        component = self.components[name]
        if component.run is not None and component.state == "RUNNING":
            code = component.run.poll()
            if code is not None:
                component.state = "FINISHED" if code == 0 else "ERRORED"
        return component.state

    def stop(self, name: str) -> Optional[int]:
        """SIGTERM the Run process group, SIGKILL after the Shutdown timeout, then run Shutdown."""
        component = self.components[name]
        code = None
        spec = self._step(component, "shutdown")
        timeout = float((spec or {}).get("timeout") or DEFAULT_TIMEOUTS["shutdown"])
        if component.run is not None and component.run.poll() is None:
            os.killpg(component.run.pid, signal.SIGTERM)
            try:
                code = component.run.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(component.run.pid, signal.SIGKILL)
                code = component.run.wait()
        elif component.run is not None:
            code = component.run.returncode
        self._run_to_end(component, "shutdown")
        component.state = "STOPPED"
        return code

    def stop_all(self) -> None:
        for name in reversed(self.order):
            if self.components[name].state != "STOPPED":
                with contextlib.suppress(DeploymentError):
                    self.stop(name)

    def log(self, name: str) -> str:
        try:
            with open(self.log_path(name), encoding="utf-8", errors="replace") as fh:
                return fh.read()[-6000:]
        except OSError:
            return "(no log)"


def _mode(permission: Dict[str, Any]) -> int:
    read = (_ci(permission, "Read") or "OWNER").upper()
    execute = (_ci(permission, "Execute") or "NONE").upper()
    mode = 0o600  # the nucleus' own user keeps write access to its store
    mode |= {"ALL": 0o044, "OWNER": 0, "NONE": 0}[read]
    mode |= {"ALL": 0o111, "OWNER": 0o100, "NONE": 0}[execute]
    return mode
