"""The fusion CNN: chooses, per pixel, among warped color candidates and repairs what none covers.

Inputs (working resolution, see `features.py`): the frame's luma, four a/b candidates --
warped from the keyframe the recurrence starts at ("origin"), from the keyframe it runs
toward ("target", absent before the first / after the last keyframe), the previous output,
and the keyframe colors found by feature matching around the flow position ("matched",
match.py) -- each with its confidence and luma mismatch, plus two distance planes. Output: a/b as a softmax blend of the candidates and one generated candidate
(for newly visible regions). The candidates' log-confidences and the keyframes' log-nearness
(1/distance) are added to the blend logits, so an untrained network already is the
classical blend (plus the previous output) and training only has to learn corrections.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

CANDIDATES = 4  # origin, target, previous output, matched
PLANES = 4  # per candidate: a, b, confidence, luma mismatch
IN_CHANNELS = 1 + PLANES * CANDIDATES + 2  # luma, the candidates' planes, 2 distance planes
AB_SCALE = 110.0  # Lab a/b are divided by this before entering the network


def _conv(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, dilation=dilation),
        nn.LeakyReLU(0.1, inplace=True),
    )


class FusionNet(nn.Module):
    """A three-level U-Net working from half the working resolution (divisible by 8)."""

    def __init__(self, width: int = 32):
        super().__init__()
        w1, w2, w3 = width, width * 3 // 2, width * 2
        self.enc1 = nn.Sequential(_conv(IN_CHANNELS, w1, stride=2), _conv(w1, w1))
        self.enc2 = nn.Sequential(_conv(w1, w2, stride=2), _conv(w2, w2))
        self.enc3 = nn.Sequential(_conv(w2, w3, stride=2), _conv(w3, w3, dilation=2), _conv(w3, w3, dilation=4))
        self.dec2 = nn.Sequential(_conv(w3 + w2, w2), _conv(w2, w2))
        self.dec1 = nn.Sequential(_conv(w2 + w1, w1), _conv(w1, w1))
        # CANDIDATES + 1 blend logits, then the generated candidate's a/b.
        self.head = nn.Conv2d(w1, CANDIDATES + 3, 3, padding=1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        with torch.no_grad():
            self.head.bias[CANDIDATES] = -4.0  # generated candidate starts almost unused

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: N x IN_CHANNELS x H x W -> a/b (scaled by 1/AB_SCALE), N x 2 x H x W."""
        e1 = self.enc1(x)
        e2 = self.enc2(e1)
        e3 = self.enc3(e2)
        d2 = self.dec2(torch.cat([F.interpolate(e3, size=e2.shape[-2:], mode="bilinear", align_corners=False), e2], 1))
        d1 = self.dec1(torch.cat([F.interpolate(d2, size=e1.shape[-2:], mode="bilinear", align_corners=False), e1], 1))
        out = F.interpolate(self.head(d1), size=x.shape[-2:], mode="bilinear", align_corners=False)
        cands = torch.stack([x[:, 1 + PLANES * i : 3 + PLANES * i] for i in range(CANDIDATES)], 1)  # N x C x 2 x H x W
        confs = torch.stack([x[:, 3 + PLANES * i] for i in range(CANDIDATES)], 1)  # N x C x H x W
        generated = torch.tanh(out[:, CANDIDATES + 1 :])
        # Prior as in the classical blend: confidence, and 1/distance for the two keyframes (distance
        # planes are distance/64); the previous output, the match and the generated candidate get no prior.
        nearness = -torch.log(x[:, IN_CHANNELS - 2 : IN_CHANNELS].clamp_min(1.0 / 64))
        prior = torch.log(confs + 1e-3) + torch.cat([nearness, torch.zeros_like(confs[:, 2:])], 1)
        logits = out[:, : CANDIDATES + 1] + torch.cat([prior, torch.zeros_like(confs[:, :1])], 1)
        weights = torch.softmax(logits, 1)
        cands = torch.cat([cands, generated[:, None]], 1)
        return (weights[:, :, None] * cands).sum(1)


def widen(state: dict, bias: float) -> dict:
    """A FusionNet state dict for this network from one with fewer candidates (the three-candidate
    network, before matching): the new candidates' input planes get zero weights and their blend
    logits the constant `bias`. With a very negative bias the result computes exactly what the old
    network did (the new candidates get no share); with a small one, a starting point for training."""
    first, head = "enc1.0.0.weight", "head"
    old = state[f"{head}.weight"].shape[0] - 3  # blend logits of the stored candidates (+ generated, a, b)
    if old == CANDIDATES:
        return state
    state = dict(state)
    weight = state[first]  # out x (1 + PLANES x old + 2 distance planes) x 3 x 3
    stored = 1 + PLANES * old  # input planes up to the first added candidate's
    zeros = torch.zeros(weight.shape[0], PLANES * (CANDIDATES - old), *weight.shape[2:])
    state[first] = torch.cat([weight[:, :stored], zeros, weight[:, stored:]], 1)
    for name, fill in (("weight", 0.0), ("bias", bias)):
        value = state[f"{head}.{name}"]
        added = torch.full((CANDIDATES - old, *value.shape[1:]), fill)
        state[f"{head}.{name}"] = torch.cat([value[:old], added, value[old:]])
    return state
