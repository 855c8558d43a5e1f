"""`edge-runtime package ...` in-process: local-folder output, describe/list, idempotency, refusals."""

from __future__ import annotations

import json
import os

import pytest

from edge_runtime.cli.main import main
from edge_runtime.digests import sha256_base64
from edge_runtime.packaging.recipes import parse_recipe, validate_recipe


def run(capsys, *argv: str):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip().startswith("{") else out), err


@pytest.fixture()
def base(tiny_model, tmp_path):
    out = str(tmp_path / "components")
    state = str(tmp_path / "state.db")
    return ["package", "start", "--model", tiny_model, "--component-name", "acme.Tiny", "--output-dir", out,
            "--target-platform", "Os=LINUX,Arch=X86_64", "--state-db", state], out, state


def test_start_describe_list_with_a_local_folder(capsys, base):
    argv, out, state = base
    code, data, err = run(capsys, *argv, "--job-name", "first", "--tag", "team=vision", "--recipe-format", "yaml",
                          "--description", "demo package")
    assert code == 0, err
    assert data["JobName"] == "first" and data["ModelPackagingDescription"]["Status"] == "SUCCEEDED"
    assert "[package]" in err  # progress lines on stderr
    zip_path = os.path.join(out, "acme.Tiny", "1.0.0", "model.zip")
    with open(os.path.join(out, "recipes", "acme.Tiny-1.0.0.yaml"), "rb") as fh:
        recipe = parse_recipe(fh.read(), "yaml")
    validate_recipe(recipe)
    artifact = recipe["Manifests"][0]["Artifacts"][0]
    assert artifact["Digest"] == sha256_base64(zip_path)
    assert artifact["URI"] == "s3://edge-runtime-local-artifacts/acme.Tiny/1.0.0/model.zip"
    assert recipe["ComponentDescription"] == "demo package"
    code, data, _ = run(capsys, "package", "describe", "first", "--state-db", state)
    assert code == 0 and data["ModelPackagingDescription"]["ModelPackagingOutputDetails"]["Greengrass"][
        "ComponentVersion"] == "1.0.0"
    code, data, _ = run(capsys, *argv, "--component-version", "1.0.1")
    assert code == 0 and data["JobName"].startswith("tiny-1-")  # generated name
    code, data, _ = run(capsys, "package", "list", "--state-db", state, "--max-results", "1")
    assert [j["JobName"] for j in data["ModelPackagingJobs"]] == ["first"] and data["NextToken"]
    code, data, _ = run(capsys, "package", "list", "--state-db", state, "--next-token", data["NextToken"])
    assert len(data["ModelPackagingJobs"]) == 1 and "NextToken" not in data


def test_client_token_is_idempotent(capsys, base):
    argv, out, state = base
    code, first, _ = run(capsys, *argv, "--client-token", "abc-1")
    code2, again, _ = run(capsys, *argv, "--client-token", "abc-1")
    assert code == code2 == 0 and first["JobName"] == again["JobName"]
    code, _, err = run(capsys, *argv, "--client-token", "abc-1", "--component-version", "2.0.0")
    assert code == 2 and "was used for job %r with a different request" % first["JobName"] in err


@pytest.mark.parametrize("extra, message", [
    (["--component-name", "bad name"], "ComponentName must be 1-128 characters"),
    (["--component-version", "1.0"], "ComponentVersion must be MAJOR.MINOR.PATCH"),
    (["--component-version", "1234567.0.0"], "ComponentVersion must be MAJOR.MINOR.PATCH"),
    (["--job-name", "no_underscores"], "JobName must be 1-64 characters"),
    (["--target-device", "jetson_xavier"], "TargetDevice and TargetPlatform exclude each other"),
    (["--compiler-options", "{}"], "Member must have length greater than or equal to 3"),
    (["--compiler-options", '{"gpu-code": "sm_72"}'], "gpu-code"),
    (["--target-platform", "Os=LINUX,Arch=X86_64,Accelerator=NVIDIA"], "gpu-code"),
    (["--target-platform", "Os=WINDOWS,Arch=X86_64"],
     "Value 'WINDOWS' at 'configuration.greengrass.targetPlatform.os' failed to satisfy constraint"),
    (["--register"], "--register needs --s3-output"),
    (["--jetpack", "5.1"], "--jetpack only applies to ARM64 NVIDIA targets"),
    (["--tag", "aws:owner=me"], "not start with 'aws:'"),
    (["--s3-output", "s3://b/p"], "exclude each other"),
])
def test_rule_breaking_requests_are_refused(capsys, base, extra, message):
    argv, out, state = base
    if extra[0] == "--target-platform":  # replace, not add
        argv = argv[: argv.index("--target-platform")] + argv[argv.index("--target-platform") + 2:]
    code, _, err = run(capsys, *argv, *extra)
    assert code == 2 and message in err, err
    assert not os.path.exists(out)


def test_duplicate_version_is_refused_and_missing_model_too(capsys, base, tmp_path):
    argv, out, state = base
    assert run(capsys, *argv)[0] == 0
    code, _, err = run(capsys, *argv)
    assert code == 2 and "acme.Tiny version 1.0.0" in err
    code, _, err = run(capsys, *[a if a != argv[3] else str(tmp_path / "nowhere") for a in argv])
    assert code == 2 and "edge-model.json is missing" in err


def test_package_agent_into_a_local_folder(capsys, tmp_path):
    out = str(tmp_path / "components")
    code, data, err = run(capsys, "package", "agent", "--output-dir", out)
    assert code == 0, err
    version = data["ComponentVersion"]
    with open(data["RecipeLocation"], "rb") as fh:
        recipe = parse_recipe(fh.read())
    wheel = os.path.join(out, "EdgeRuntime.Agent", version, "edge_runtime-%s-py3-none-any.whl" % version)
    assert recipe["Manifests"][0]["Artifacts"][0]["Digest"] == sha256_base64(wheel)
    code, _, err = run(capsys, "package", "agent", "--output-dir", out)
    assert code == 2 and "EdgeRuntime.Agent version %s is already published" % version in err
