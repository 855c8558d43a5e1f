"""`edge-runtime dataset synth|check|elpv`, called in-process through the real entry point."""

from __future__ import annotations

import json
import os

import pytest

from edge_runtime.cli.main import main
from tests.datasets.builders import cls_line, write_manifest


def test_synth_then_check_every_manifest(tmp_path, capsys):
    out = str(tmp_path / "synth")
    assert main(["dataset", "synth", "--output", out, "--count", "20", "--size", "64", "--seed", "2"]) == 0
    assert "wrote 60 images" in capsys.readouterr().out
    assert main(["dataset", "check", "--manifest", os.path.join(out, "segmentation-train.manifest")]) == 0
    printed = capsys.readouterr().out
    assert "20 normal, 20 anomalous" in printed and "64x64 (40)" in printed and "#F76902" in printed
    assert main(["dataset", "check", "--manifest", os.path.join(out, "classification-test.manifest"),
                 "--role", "test"]) == 0
    assert main(["dataset", "synth", "--output", out, "--count", "10", "--size", "64"]) == 2
    assert "not empty" in capsys.readouterr().err
    assert main(["dataset", "synth", "--output", out, "--count", "10", "--size", "64", "--force"]) == 0


def test_check_reports_errors_and_exits_non_zero(tmp_path, capsys):
    bad = write_manifest(tmp_path / "bad.manifest", [cls_line("a.png"), "{oops"])
    assert main(["dataset", "check", "--manifest", bad]) == 2
    assert "bad.manifest:2: expected one JSON object per line" in capsys.readouterr().err
    small = write_manifest(tmp_path / "small.manifest", [cls_line("missing.png")])
    assert main(["dataset", "check", "--manifest", small, "--role", "test"]) == 2
    err = capsys.readouterr().err
    assert "missing.png: file not found" in err and "1 normal images; a test dataset needs at least 10" in err


def test_elpv_command_writes_two_manifests(tmp_path, capsys):
    pytest.importorskip("elpv_dataset")
    assert main(["dataset", "elpv", "--output", str(tmp_path)]) == 0
    first = json.loads((tmp_path / "elpv-train.manifest").read_text().splitlines()[0])
    assert os.path.isabs(first["source-ref"]) and os.path.isfile(first["source-ref"])
