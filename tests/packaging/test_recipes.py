"""Recipes: schema (keys lower-cased as AWS's tool does), device rules, 16 KB, JSON and YAML, digests."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import zipfile

import pytest
import yaml

from edge_runtime.digests import sha256_base64
from edge_runtime.packaging.agent_component import AgentComponentSpec, agent_recipe, default_configuration
from edge_runtime.packaging.artifacts import Artifact, zip_folder
from edge_runtime.packaging.model_component import ModelComponentSpec, model_recipe
from edge_runtime.packaging.recipes import (
    MAX_RECIPE_BYTES,
    RecipeError,
    load_schema,
    parse_recipe,
    render_recipe,
    validate_recipe,
)

ARTIFACT = Artifact(path="/x/model.zip", digest="47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", size=0,
                    unarchive="ZIP")
URI = "s3://bucket/prefix/acme.Tiny/1.0.0/model.zip"


def model() -> dict:
    spec = ModelComponentSpec(name="acme.Tiny", version="1.0.0", architecture="aarch64", jetpack="5.1")
    return model_recipe(spec, ARTIFACT, URI)


def test_schema_ships_inside_the_package_and_is_the_spec_copy():
    schema = load_schema()
    assert schema["$schema"].startswith("http://json-schema.org/draft-07")
    assert set(schema["required"]) == {"recipeformatversion", "componentname", "componentversion", "manifests"}


def test_model_recipe_is_valid_in_json_and_yaml_and_reads_back_the_same():
    recipe = model()
    for fmt in ("json", "yaml"):
        data = render_recipe(recipe, fmt)
        assert len(data) < MAX_RECIPE_BYTES
        back = parse_recipe(data, fmt)
        assert back == recipe
        assert back["RecipeFormatVersion"] == "2020-01-25"  # a string, not a YAML date
    assert b"RecipeFormatVersion: '2020-01-25'" in render_recipe(recipe, "yaml")
    manifest = recipe["Manifests"][0]
    assert manifest["Platform"] == {"os": "linux", "architecture": "aarch64", "jetpack": "5.1"}
    assert manifest["Artifacts"][0]["Permission"] == {"Read": "ALL", "Execute": "NONE"}
    assert recipe["ComponentDependencies"]["EdgeRuntime.Agent"] == {
        "VersionRequirement": ">=0.1.0 <1.0.0", "DependencyType": "SOFT"}


def test_keys_are_case_insensitive_like_the_device():
    lowered = json.loads(json.dumps(model()).replace('"ComponentName"', '"componentname"'))
    validate_recipe(lowered)


@pytest.mark.parametrize("mutate, expected", [
    (lambda r: r.update(ComponentName="bad name!"), "componentname"),
    (lambda r: r.pop("Manifests"), "'manifests' is a required property"),
    (lambda r: r.update(Tags={"a": "b"}), "Additional properties are not allowed"),
    (lambda r: r["Manifests"][0]["Artifacts"][0].update(Unarchive="TAR"), "unarchive"),
    (lambda r: r["Manifests"][0]["Artifacts"][0].update(Permission={"Read": "EVERYONE"}), "read"),
    (lambda r: r.update(ComponentVersion="1.0"), "ComponentVersion must be a semantic version"),
    (lambda r: r["Manifests"][0]["Platform"].update(architecture="x86_64"), "never reported by a device"),
    (lambda r: r["Manifests"][0]["Artifacts"][0].pop("Digest"), "needs Algorithm SHA-256 and a Digest"),
    (lambda r: r["Manifests"][0]["Lifecycle"].update(Instal="echo"), "unknown lifecycle step"),
])
def test_broken_recipes_are_refused_with_the_rule(mutate, expected):
    recipe = copy.deepcopy(model())
    mutate(recipe)
    with pytest.raises(RecipeError, match="recipe for .* breaks") as info:
        render_recipe(recipe)
    assert expected in str(info.value)


def test_recipes_over_16000_bytes_are_refused():
    recipe = model()
    recipe["ComponentDescription"] = "x" * MAX_RECIPE_BYTES
    with pytest.raises(RecipeError, match="bytes; Greengrass accepts at most 16000"):
        render_recipe(recipe)


def test_digest_is_base64_of_raw_sha256_not_hex(tmp_path):
    path = tmp_path / "abc"
    path.write_bytes(b"abc")
    assert sha256_base64(str(path)) == "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
    assert base64.b64decode(sha256_base64(str(path))) == hashlib.sha256(b"abc").digest()


def test_zip_is_reproducible_and_unpacks_flat(tmp_path):
    src = tmp_path / "pkg"
    (src / "sub").mkdir(parents=True)
    (src / "edge-model.json").write_text("{}")
    (src / "sub" / "a.bin").write_bytes(b"\0" * 100)
    first = zip_folder(str(src), str(tmp_path / "one.zip"))
    second = zip_folder(str(src), str(tmp_path / "two.zip"))
    assert first.digest == second.digest and first.unarchive == "ZIP"
    assert sorted(zipfile.ZipFile(first.path).namelist()) == ["edge-model.json", "sub/a.bin"]
    assert not list(tmp_path.glob("*.partial"))


def test_agent_recipe_is_valid_with_a_manifest_per_platform():
    spec = AgentComponentSpec(version="0.1.0", wheel_sha256_hex="ab" * 32)
    wheel = Artifact(path="/x/edge_runtime-0.1.0-py3-none-any.whl", digest=ARTIFACT.digest, size=1)
    recipe = agent_recipe(spec, wheel, "s3://b/p/EdgeRuntime.Agent/0.1.0/" + wheel.file_name)
    for fmt in ("json", "yaml"):
        assert parse_recipe(render_recipe(recipe, fmt), fmt) == recipe
    platforms = [(m["Platform"], m["Lifecycle"]["Install"]["Script"]) for m in recipe["Manifests"]]
    assert [p["architecture"] for p, _ in platforms] == ["aarch64", "amd64", "amd64"]
    assert "[agent,gpu]" in platforms[0][1] and "[agent,openvino]" in platforms[2][1]
    assert "--system-site-packages" in platforms[0][1]
    run = recipe["Manifests"][0]["Lifecycle"]["Run"]
    assert run["Setenv"] == {"EDGE_RUNTIME_AGENT_CONFIG": "{configuration:/agent}"}
    assert "exec \"$VENV/bin/edge-runtime\" agent --socket '{configuration:/socket}'" in run["Script"]
    acl = recipe["ComponentConfiguration"]["DefaultConfiguration"]["accessControl"]
    assert set(acl) == {"aws.greengrass.ipc.pubsub", "aws.greengrass.ipc.mqttproxy"}


def test_default_agent_configuration_is_one_the_agent_accepts():
    """The recipe's `agent` object is written as the agent's --config file: it must load there."""
    from edge_runtime.agent.config import config_from_dict

    config = config_from_dict(default_configuration()["agent"])
    assert config.batching.max_batch_size == 8 and config.server.socket_mode == 0o660
    yaml.safe_dump(default_configuration())  # plain data, no Python objects
