"""`edge-runtime compile` then `edge-runtime package start --model <compiled>`: the compiled package is
packaged as it is (no second compile), for the target it was compiled for, and the packaged model
loads and runs like the compiled folder. Everything real: the CLI in-process, ONNX Runtime, the ZIP."""

from __future__ import annotations

import filecmp
import json
import os
import zipfile

import numpy as np
import pytest

from edge_runtime.cli.main import main
from edge_runtime.runtime.factory import PredictorOptions, create_predictor
from edge_runtime.runtime.loader import load_package

X86 = ["--target-platform", "Os=LINUX,Arch=X86_64", "--compiler-options", '{"mcpu": "x86-64"}']


@pytest.fixture()
def compiled(tiny_model, tmp_path, capsys) -> str:
    out = str(tmp_path / "compiled")
    code = main(["compile", "--model", tiny_model, *X86, "--output", out])
    assert code == 0, capsys.readouterr().err
    capsys.readouterr()  # the compile summary
    return out


def package(tmp_path, model: str, *target: str) -> tuple:
    out = str(tmp_path / "components")
    code = main(["package", "start", "--model", model, "--component-name", "acme.Compiled", "--output-dir", out,
                 "--state-db", str(tmp_path / "state.db"), *target])
    return code, out


def score(folder: str) -> float:
    predictor = create_predictor(load_package(folder), PredictorOptions(max_batch_size=1))
    predictor.load()
    return predictor.predict([np.full((64, 64, 3), 90, np.uint8)])[0].score


def test_compile_output_is_packaged_as_it_is(compiled, tmp_path, capsys):
    code, out = package(tmp_path, compiled)  # no target flags: the package's own target
    captured = capsys.readouterr()
    assert code == 0, captured.err
    description = json.loads(captured.out)["ModelPackagingDescription"]
    assert description["Status"] == "SUCCEEDED"
    assert description["ModelPackagingConfiguration"]["Greengrass"]["TargetPlatform"] == {
        "Os": "LINUX", "Arch": "X86_64"}
    assert "packaging it as it is" in captured.err and "optimising the graph" not in captured.err
    unpacked = str(tmp_path / "device-model")
    with zipfile.ZipFile(os.path.join(out, "acme.Compiled", "1.0.0", "model.zip")) as archive:
        archive.extractall(unpacked)
    assert sorted(os.listdir(unpacked)) == sorted(os.listdir(compiled))
    assert all(filecmp.cmp(os.path.join(unpacked, n), os.path.join(compiled, n), shallow=False)
               for n in os.listdir(compiled))
    assert load_package(unpacked).model_path.endswith("model.cpu-fp32.onnx")
    assert score(unpacked) == pytest.approx(score(compiled), abs=1e-6)


def test_the_same_target_spelled_out_is_accepted(compiled, tmp_path, capsys):
    code, _ = package(tmp_path, compiled, *X86)
    assert code == 0, capsys.readouterr().err


def test_another_target_is_refused_before_any_work(compiled, tmp_path, capsys):
    code, out = package(tmp_path, compiled, "--target-device", "jetson_xavier")
    err = capsys.readouterr().err
    assert code == 2 and "is already compiled for LINUX X86_64 CPU" in err and "jetson_xavier" in err, err
    assert not os.path.exists(out)
