"""The occlusion model: a tiny U-Net that marks what covers the face in an aligned crop.

In: float (N, 3, R, R) BGR in [0, 1] (R = 96 by default). Out: logits (N, 1, R, R), > 0 where
something (a hand, an object, a hair strand) is in front of the face. The encoder works from R/2
down to R/16 (whole-face context); a thin full-resolution tail (one 8-channel layer on the input,
one after the decoder) keeps glasses rims and hair strands, which are 1-2 px wide at R/2 and were
lost there (benchmarks/results_log/2026-11-to-2026-12-06.md). About 1 ms per face on one CPU core.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class OccluderNet(nn.Module):
    """width: channels of the first level (then 2x, 4x, 4x going down)."""

    def __init__(self, width: int = 16, tail: int = 8):
        super().__init__()
        w = width
        self.width = width
        self.full = _conv(3, tail)  # R: fine edges
        self.stem = nn.Sequential(_conv(3, w, 2), _conv(w, w))  # R/2
        self.down1 = nn.Sequential(_conv(w, 2 * w, 2), _conv(2 * w, 2 * w))  # R/4
        self.down2 = nn.Sequential(_conv(2 * w, 4 * w, 2), _conv(4 * w, 4 * w))  # R/8
        self.down3 = nn.Sequential(_conv(4 * w, 4 * w, 2), _conv(4 * w, 4 * w))  # R/16: whole-face context
        self.up2 = _conv(8 * w, 2 * w)
        self.up1 = _conv(4 * w, w)
        self.up0 = _conv(2 * w, w)
        self.tail = _conv(w + tail, tail)
        self.head = nn.Conv2d(tail, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s0 = self.stem(x)
        s1 = self.down1(s0)
        s2 = self.down2(s1)
        s3 = self.down3(s2)
        y = self.up2(torch.cat([F.interpolate(s3, scale_factor=2.0, mode="nearest"), s2], 1))
        y = self.up1(torch.cat([F.interpolate(y, scale_factor=2.0, mode="nearest"), s1], 1))
        y = self.up0(torch.cat([F.interpolate(y, scale_factor=2.0, mode="nearest"), s0], 1))
        y = self.tail(
            torch.cat([F.interpolate(y, scale_factor=2.0, mode="bilinear", align_corners=False), self.full(x)], 1)
        )
        return self.head(y)


class OccluderExport(nn.Module):
    """The graph that is exported: uint8 NHWC BGR crops in, uint8 NHWC occlusion (255 = covered) out."""

    def __init__(self, net: OccluderNet):
        super().__init__()
        self.net = net

    def forward(self, face: torch.Tensor) -> torch.Tensor:
        x = face.permute(0, 3, 1, 2).float() * (1.0 / 255.0)
        p = torch.sigmoid(self.net(x))
        return (p * 255.0 + 0.5).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1)
