"""The nucleus harness and the model recipe's lifecycle, from the local-folder layout the demo uses.

The model component is real (packaged by the CLI, compiled for Jetson with a deferred TensorRT build);
the agent here is a stand-in recipe (a `sleep` Run step, no artifacts) because these tests are about
the model recipe's platform matching, digests, variables and link/unlink; the real agent component
is deployed in test_end_to_end.py.
"""

from __future__ import annotations

import json
import os
import stat
import time
import zipfile

import pytest

from edge_runtime.cli.main import main
from edge_runtime.packaging.recipes import parse_recipe
from tests.packaging.nucleus_harness import DeploymentError, NucleusHarness, satisfies

JETSON = {"os": "linux", "architecture": "aarch64"}


def stand_in_agent(version: str = "0.1.0", models_root: str = "") -> dict:
    return {"RecipeFormatVersion": "2020-01-25", "ComponentName": "EdgeRuntime.Agent", "ComponentVersion": version,
            "ComponentConfiguration": {"DefaultConfiguration": {"modelsRoot": models_root, "batch": {"size": 8}}},
            "Manifests": [{"Platform": {"os": "linux"}, "Lifecycle": {"Run": "exec sleep 60"}}]}


@pytest.fixture()
def jetson_component(tiny_model, tmp_path, capsys):
    out = str(tmp_path / "components")
    code = main(["package", "start", "--model", tiny_model, "--component-name", "acme.Jetson", "--target-device",
                 "jetson_xavier", "--jetpack", "5.1", "--output-dir", out, "--state-db", str(tmp_path / "s.db")])
    assert code == 0, capsys.readouterr().err
    with open(os.path.join(out, "recipes", "acme.Jetson-1.0.0.json"), "rb") as fh:
        return out, parse_recipe(fh.read())


def test_jetson_package_carries_a_deferred_tensorrt_build(jetson_component):
    out, recipe = jetson_component
    assert recipe["Manifests"][0]["Platform"] == {"os": "linux", "architecture": "aarch64", "jetpack": "5.1"}
    with zipfile.ZipFile(os.path.join(out, "acme.Jetson", "1.0.0", "model.zip")) as archive:
        build = json.loads(archive.read("edge-build.json"))
    assert build["backend"] == "tensorrt" and build["tensorrt"]["engine"] is None
    assert build["tensorrt"]["deferred_reason"]


def test_platform_attribute_tells_jetpack_releases_apart(jetson_component, tmp_path):
    out, recipe = jetson_component
    device = NucleusHarness(str(tmp_path / "gg"), platform=dict(JETSON), artifact_dir=out)
    with pytest.raises(DeploymentError, match="no manifest of acme.Jetson matches platform"):
        device.deploy([stand_in_agent(), recipe])
    device = NucleusHarness(str(tmp_path / "gg2"), platform=dict(JETSON, jetpack="4.6"), artifact_dir=out)
    with pytest.raises(DeploymentError, match="no manifest"):
        device.deploy([stand_in_agent(), recipe])


def test_run_links_into_the_agents_models_root_and_shutdown_unlinks(jetson_component, tmp_path):
    out, recipe = jetson_component
    device = NucleusHarness(str(tmp_path / "gg"), platform=dict(JETSON, jetpack="5.1"), artifact_dir=out)
    try:
        device.deploy([recipe, stand_in_agent()])  # order given does not matter: dependencies first
        link = os.path.join(device.work_path("EdgeRuntime.Agent"), "models", "acme.Jetson")  # modelsRoot ""
        for _ in range(50):
            if device.state("acme.Jetson") == "FINISHED":
                break
            time.sleep(0.1)
        assert device.state("acme.Jetson") == "FINISHED", device.log("acme.Jetson")
        target = os.readlink(link)
        assert target == os.path.join(device.unarchived_path("acme.Jetson", "1.0.0"), "model")
        assert os.path.isfile(os.path.join(link, "edge-model.json"))
        mode = os.stat(os.path.join(device.artifacts_path("acme.Jetson", "1.0.0"), "model.zip")).st_mode
        assert mode & stat.S_IROTH and not mode & stat.S_IXUSR  # Read ALL, Execute NONE
        device.stop("acme.Jetson")
        assert not os.path.lexists(link)
    finally:
        device.stop_all()


def test_models_root_comes_from_the_agents_configuration(jetson_component, tmp_path):
    out, recipe = jetson_component
    root = str(tmp_path / "models")
    device = NucleusHarness(str(tmp_path / "gg"), platform=dict(JETSON, jetpack="5.1"), artifact_dir=out)
    try:
        device.deploy([stand_in_agent(), recipe], configuration={"EdgeRuntime.Agent": {"modelsRoot": root}})
        for _ in range(50):
            if os.path.islink(os.path.join(root, "acme.Jetson")):
                break
            time.sleep(0.1)
        assert os.path.islink(os.path.join(root, "acme.Jetson")), device.log("acme.Jetson")
    finally:
        device.stop_all()


def test_tampered_artifacts_and_wrong_agent_versions_are_refused(jetson_component, tmp_path):
    out, recipe = jetson_component
    device = NucleusHarness(str(tmp_path / "gg"), platform=dict(JETSON, jetpack="5.1"), artifact_dir=out)
    with pytest.raises(DeploymentError, match=r"acme.Jetson needs EdgeRuntime.Agent >=0.1.0 <1.0.0.*1.2.0"):
        device.deploy([stand_in_agent("1.2.0"), recipe])
    with open(os.path.join(out, "acme.Jetson", "1.0.0", "model.zip"), "ab") as fh:
        fh.write(b"tampered")
    with pytest.raises(DeploymentError, match="integrity check failed"):
        device.deploy([stand_in_agent(), recipe])
    assert not os.path.exists(os.path.join(device.artifacts_path("acme.Jetson", "1.0.0"), "model.zip"))


def test_variables_follow_the_nucleus_rules(tmp_path):
    device = NucleusHarness(str(tmp_path / "gg"), thing_name="line-7")
    agent = stand_in_agent()
    try:
        device.deploy([agent])
        component = device.components["EdgeRuntime.Agent"]
        text = device.interpolate("{configuration:/batch} {configuration:/batch/size} {configuration:/nope} "
                                  "{iot:thingName} {kernel:rootPath} {Other.Component:configuration:/x} ${HOME-}",
                                  component)
        assert text == '{"size":8} 8 {configuration:/nope} line-7 %s {Other.Component:configuration:/x} ${HOME-}' \
            % device.root
    finally:
        device.stop_all()
    assert satisfies("0.9.3", ">=0.1.0 <1.0.0") and not satisfies("1.0.0", ">=0.1.0 <1.0.0")
    assert satisfies("1.4.0", "^1.2.0") and not satisfies("2.0.0", "^1.2.0")


def test_deploy_local_picks_the_newest_version_of_each_component(tmp_path):
    from tests.packaging.deploy_local import device_platform, newest_recipes

    folder = tmp_path / "recipes"
    folder.mkdir()
    for version in ("0.9.0", "0.10.0", "0.2.1"):
        (folder / ("EdgeRuntime.Agent-%s.json" % version)).write_text(json.dumps(stand_in_agent(version)))
    (folder / "notes.txt").write_text("ignored")
    assert [r["ComponentVersion"] for r in newest_recipes(str(tmp_path))] == ["0.10.0"]
    assert device_platform(["jetpack=5.1"])["jetpack"] == "5.1"
