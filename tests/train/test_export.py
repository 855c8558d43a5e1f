"""ONNX export: same scores under ONNX Runtime as in torch (atol 1e-4), with the real EfficientNet-Lite0."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from edge_runtime.errors import InvalidArgument, ModelPackageError
from edge_runtime.train.backbones import build_backbone, default_lite0_weights
from edge_runtime.train.export import check_onnx_limits, export_onnx, onnx_outputs, torch_outputs, verify_onnx
from edge_runtime.train.heads import ClassifierNet, PooledClassifierHead, SegmentationDecoder, SegmenterNet

ATOL = 1e-4  # largest allowed |ONNX Runtime - torch| of any output element


def _batch(n: int, size: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 3, size, size)).astype(np.float32)


def test_real_efficientnet_lite0_classifier_matches_torch(tmp_path: Path) -> None:
    torch.manual_seed(0)
    backbone = build_backbone("efficientnet-lite0", 96)
    assert backbone.info.weights == default_lite0_weights()
    net = ClassifierNet(backbone, PooledClassifierHead(backbone.info.tap_channels)).eval()
    path = str(tmp_path / "model.onnx")
    export_onnx(net, path, "classification", 96, 96)
    batch = _batch(3, 96)  # the export used batch 2: a different batch checks the dynamic axis
    expected = torch_outputs(net, batch, "classification")["score"]
    actual = onnx_outputs(path, batch)["score"]
    assert actual.shape == (3,)
    np.testing.assert_allclose(actual, expected, atol=ATOL, rtol=0)
    assert verify_onnx(net, path, batch, "classification", ATOL) <= ATOL


def test_real_weights_give_imagenet_like_features() -> None:
    """The default weights are really loaded: random weights would not give these statistics."""
    backbone = build_backbone("efficientnet-lite0", 64)
    state = torch.load(default_lite0_weights(), map_location="cpu", weights_only=True)
    stem = backbone.stages[0][0].weight.detach()
    assert torch.equal(stem, state["_conv_stem.weight"])


def test_tiny_segmenter_non_square_matches_torch(tmp_path: Path) -> None:
    torch.manual_seed(0)
    backbone = build_backbone("tiny", (64, 96))
    net = SegmenterNet(backbone, SegmentationDecoder(backbone.info.tap_channels, 3)).eval()
    path = str(tmp_path / "seg.onnx")
    export_onnx(net, path, "segmentation", 64, 96)
    batch = np.random.default_rng(1).normal(size=(2, 3, 64, 96)).astype(np.float32)
    assert verify_onnx(net, path, batch, "segmentation", ATOL) <= ATOL
    assert onnx_outputs(path, batch)["seg"].shape == (2, 3, 64, 96)


def test_limits_refuse_newer_ir(tmp_path: Path) -> None:
    backbone = build_backbone("tiny", 64)
    net = ClassifierNet(backbone, PooledClassifierHead(backbone.info.tap_channels)).eval()
    path = str(tmp_path / "model.onnx")
    export_onnx(net, path, "classification", 64, 64)
    model = onnx.load(path)
    assert model.ir_version <= 10
    model.ir_version = 11
    onnx.save(model, path)
    with pytest.raises(ModelPackageError, match="IR 11"):
        check_onnx_limits(path)


def test_user_weights_are_loaded_and_checked(tmp_path: Path) -> None:
    backbone = build_backbone("tiny", 64)
    state = {k: torch.full_like(v, 0.5) if v.is_floating_point() else v for k, v in backbone.state_dict().items()}
    good = tmp_path / "mine.pth"
    torch.save(state, good)
    loaded = build_backbone("tiny", 64, str(good))
    assert float(loaded.stages[1][0].weight.detach().mean()) == pytest.approx(0.5)
    assert loaded.info.weights == str(good)
    bad = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(1)}, bad)
    with pytest.raises(InvalidArgument, match="do not fit"):
        build_backbone("tiny", 64, str(bad))
    with pytest.raises(InvalidArgument, match="not found"):
        build_backbone("tiny", 64, str(tmp_path / "absent.pth"))


def test_mirror_tta_averages_image_and_mirror_and_exports(tmp_path: Path) -> None:
    torch.manual_seed(0)
    backbone = build_backbone("tiny", 64)
    head = PooledClassifierHead(backbone.info.tap_channels)
    plain = ClassifierNet(backbone, head).eval()
    tta = ClassifierNet(backbone, head, mirror_tta=True).eval()
    batch = _batch(3, 64)
    with torch.no_grad():
        x = torch.from_numpy(batch)
        expected = (plain(x) + plain(x.flip(3))) / 2
        np.testing.assert_allclose(tta(x).numpy(), expected.numpy(), atol=1e-6)
    path = str(tmp_path / "tta.onnx")
    export_onnx(tta, path, "classification", 64, 64)
    assert verify_onnx(tta, path, batch, "classification", ATOL) <= ATOL
    assert onnx_outputs(path, batch[:1])["score"].shape == (1,)
