"""Issue 13 item 7 and the ARN compatibility point, on a real agent and the real compile CLI:
`model_file` must be a plain file inside its package, and ListModels/DescribeModel report an ARN."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from edge_runtime.cli.main import main
from edge_runtime.modelpkg.manifest import MANIFEST_FILE

ARN = "arn:aws:lookoutvision:eu-west-1:111122223333:model/line-3/7"


def _package(tmp_path, tiny_packages, name, **manifest_changes):
    folder = str(tmp_path / "packages" / name)
    shutil.copytree(tiny_packages["classify"], folder)
    path = os.path.join(folder, MANIFEST_FILE)
    with open(path) as fh:
        data = json.load(fh)
    data.update(manifest_changes)
    with open(path, "w") as fh:
        json.dump(data, fh)
    return folder


@pytest.fixture
def escaping_packages(tmp_path, tiny_packages):
    stash = tmp_path / "packages" / "stash"
    stash.mkdir(parents=True)
    shutil.copy(os.path.join(tiny_packages["classify"], "model.onnx"), str(stash / "model.onnx"))
    relative = _package(tmp_path, tiny_packages, "escape-rel", model_file="../stash/model.onnx")
    absolute = _package(tmp_path, tiny_packages, "escape-abs", model_file=str(stash / "model.onnx"))
    link = _package(tmp_path, tiny_packages, "escape-link")
    os.unlink(os.path.join(link, "model.onnx"))
    os.symlink(str(stash / "model.onnx"), os.path.join(link, "model.onnx"))
    for folder in (relative, absolute):
        os.unlink(os.path.join(folder, "model.onnx"))
    return {"escape-rel": relative, "escape-abs": absolute, "escape-link": link}


def test_model_file_outside_the_package_is_not_loaded(start_agent, lookout_client, escaping_packages, tiny_packages):
    pb2, _ = lookout_client
    agent = start_agent(packages=dict(escaping_packages, classify=tiny_packages["classify"]))
    for name in escaping_packages:
        agent.stub.StartModel(pb2.StartModelRequest(model_component=name))
        desc = agent.wait_status(pb2, name, "FAILED")
        assert "plain file name inside the package" in desc.status_message or "leads out of the package" in \
            desc.status_message, desc.status_message
    agent.start_and_wait(pb2, "classify")  # the next good model starts


def test_compile_refuses_a_model_file_outside_the_package(tmp_path, escaping_packages, capsys):
    before = sorted(os.listdir(str(tmp_path)))
    for name, folder in escaping_packages.items():
        output = tmp_path / ("out-" + name)
        code = main(["compile", "--model", folder, "--target-platform", "Os=LINUX,Arch=X86_64",
                     "--output", str(output)])
        assert code != 0, name
        assert "package" in capsys.readouterr().err
        assert not output.exists() and not (tmp_path / "model.onnx").exists()
        assert sorted(os.listdir(str(tmp_path))) == before, "compile wrote beside --output"


def test_list_and_describe_report_the_lookout_arn(start_agent, lookout_client, tmp_path, tiny_packages):
    pb2, _ = lookout_client
    with_arn = _package(tmp_path, tiny_packages, "with-arn", model_arn=ARN)
    agent = start_agent(packages={"with-arn": with_arn, "classify": tiny_packages["classify"]})
    models = {m.model_component: m.lookout_vision_model_arn
              for m in agent.stub.ListModels(pb2.ListModelsRequest()).models}
    with open(os.path.join(tiny_packages["classify"], MANIFEST_FILE)) as fh:
        plain = json.load(fh)
    local = "arn:aws:lookoutvision:local:000000000000:model/%s/%d" % (plain["name"], plain["version"])
    assert models == {"with-arn": ARN, "classify": local}
    agent.start_and_wait(pb2, "with-arn")
    desc = agent.stub.DescribeModel(pb2.DescribeModelRequest(model_component="with-arn")).model_description
    assert desc.lookout_vision_model_arn == ARN and desc.status == pb2.RUNNING
