"""Heads on the backbone's multi-scale taps, and the exportable networks they form.

The exported networks follow the ONNX contract in `modelpkg/manifest.py`: input `image`, output
`score` [N] (probability of an anomaly) and, for segmentation, `seg` [N, C, H, W] class probabilities
at the input resolution (class 0 background).
"""

from __future__ import annotations

from typing import List, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from edge_runtime.train.backbones import StageChain


def _conv_bn(cin: int, cout: int, kernel: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, padding=kernel // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU6())


class PooledClassifierHead(nn.Module):
    """Each tap: 1x1 projection, a depthwise 3x3 and a 1x1 mix (local context, so a crack's few pixels
    form one strong response), then global average pooling and the mean of the top 2% positions; one
    linear layer on the concatenation.

    The top-k mean lets a small defect anywhere decide, like max pooling, but is steadier than a single
    position (measured on ELPV: ROC AUC 0.964 against 0.961 with max pooling).
    """

    def __init__(self, tap_channels: Sequence[int], width: int = 64, dropout: float = 0.3,
                 top_fraction: float = 0.02) -> None:
        super().__init__()
        self.project = nn.ModuleList([
            nn.Sequential(_conv_bn(c, width), _conv_bn(width, width, 3, groups=width), _conv_bn(width, width))
            for c in tap_channels])
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(2 * width * len(tap_channels), 1)
        self.top_fraction = top_fraction

    def forward(self, taps: Sequence[torch.Tensor]) -> torch.Tensor:
        pooled = []
        for project, tap in zip(self.project, taps):
            h = project(tap).flatten(2)
            k = max(1, int(h.shape[2] * self.top_fraction))
            pooled.extend([h.mean(dim=2), h.topk(k, dim=2).values.mean(dim=2)])
        return self.fc(self.dropout(torch.cat(pooled, dim=1))).squeeze(1)  # logits [N]


class SegmentationDecoder(nn.Module):
    """FPN-lite: 1x1 laterals to a common width, upsample-and-add at stride 8, 3x3 refine, classifier.

    With `fine` the first tap is the backbone's stride-4 stage: the refined stride-8 map is upsampled, added
    to that tap's lateral and refined once more, so the logits are at stride 4 (thin defects such as
    cracks a few pixels wide are otherwise blurred over an 8-pixel cell).
    """

    def __init__(self, tap_channels: Sequence[int], num_classes: int, width: int = 64, fine: bool = False) -> None:
        super().__init__()
        self.fine = fine
        coarse = tap_channels[1:] if fine else tap_channels
        self.lateral = nn.ModuleList([_conv_bn(c, width) for c in coarse])
        self.refine = nn.Sequential(_conv_bn(width, width, 3, groups=width), _conv_bn(width, width),
                                    _conv_bn(width, width, 3, groups=width), _conv_bn(width, width))
        if fine:
            self.fine_lateral = _conv_bn(tap_channels[0], width)
            self.fine_refine = nn.Sequential(_conv_bn(width, width, 3, groups=width), _conv_bn(width, width))
        self.classify = nn.Conv2d(width, num_classes, 1)

    def forward(self, taps: Sequence[torch.Tensor]) -> torch.Tensor:
        coarse = taps[1:] if self.fine else taps
        x = self.lateral[0](coarse[0])
        for lateral, tap in zip(self.lateral[1:], coarse[1:]):
            x = x + F.interpolate(lateral(tap), size=x.shape[-2:], mode="bilinear", align_corners=False)
        x = self.refine(x)
        if self.fine:
            up = F.interpolate(x, size=taps[0].shape[-2:], mode="bilinear", align_corners=False)
            x = self.fine_refine(self.fine_lateral(taps[0]) + up)
        return self.classify(x)  # logits at the first tap's stride


def upsample_logits(logits: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    return F.interpolate(logits, size=size, mode="bilinear", align_corners=False)


def anomaly_score(logits: torch.Tensor) -> torch.Tensor:
    """Image score of a segmentation model: the largest (1 - p_background) over the coarse grid."""
    background = torch.softmax(logits, dim=1)[:, 0]
    return (1.0 - background).flatten(1).amax(dim=1)


class ClassifierNet(nn.Module):
    """image -> score: backbone taps, pooled head, sigmoid.

    With `mirror_tta` the score is the mean of the image's and its mirror image's probabilities (the
    network runs on twice the batch): steadier scores for parts that look the same mirrored.
    """

    def __init__(self, backbone: StageChain, head: PooledClassifierHead, mirror_tta: bool = False) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.mirror_tta = mirror_tta

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if not self.mirror_tta:
            return torch.sigmoid(self.head(self.backbone(image)))
        both = torch.cat([image, image.flip(3)], dim=0)
        return torch.sigmoid(self.head(self.backbone(both))).reshape(2, -1).mean(dim=0)


class SegmenterNet(nn.Module):
    """image -> (score, seg): backbone taps, decoder, softmax at the input resolution."""

    def __init__(self, backbone: StageChain, decoder: SegmentationDecoder) -> None:
        super().__init__()
        self.backbone = backbone
        self.decoder = decoder

    def forward(self, image: torch.Tensor) -> List[torch.Tensor]:
        logits = self.decoder(self.backbone(image))
        seg = torch.softmax(upsample_logits(logits, (image.shape[-2], image.shape[-1])), dim=1)
        return [anomaly_score(logits), seg]
