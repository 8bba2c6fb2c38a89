"""Fast edge-aware propagation of sparse chroma hints (the network's starting point).

A coarse-to-fine normalized convolution: hint chroma (numerator) and hint mask
(denominator) are pooled down a pyramid, diffused at every level with weights that
fall off with luma differences and are zero across boundary strokes, and the coarse
answer fills in the next finer level where that level's own hints do not reach
(local first: with many hints, a pixel takes its neighbours' colors rather than a
wide average). The ratio is a geodesic-weighted average of the hints; the diffused
mask says how much support a pixel has (0 where no hint can reach it, e.g. behind a
stroke). Batched torch, so training computes it on the fly
and a 512-px preview costs a few tens of milliseconds.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

SIGMA = 0.04  # luma difference (0..1) at which neighbours decouple
LOCAL_ITERS = 2  # per finer level: diffusion of its own hints before the coarse answer fills in
FINE_ITERS = 4   # then of the two together
COARSE_ITERS = 24
MIN_SIDE = 8


def _neighbour_weights(luma: torch.Tensor, barrier: torch.Tensor, sigma: float):
    open_ = 1.0 - barrier
    dx = luma[..., :, 1:] - luma[..., :, :-1]
    dy = luma[..., 1:, :] - luma[..., :-1, :]
    wx = torch.exp(-(dx * dx) / (2 * sigma * sigma)) * open_[..., :, 1:] * open_[..., :, :-1]
    wy = torch.exp(-(dy * dy) / (2 * sigma * sigma)) * open_[..., 1:, :] * open_[..., :-1, :]
    norm = 1.0 + F.pad(wx, (1, 0)) + F.pad(wx, (0, 1)) + F.pad(wy, (0, 0, 1, 0)) + F.pad(wy, (0, 0, 0, 1))
    return wx, wy, norm


def _diffuse(x: torch.Tensor, wx, wy, norm, iters: int) -> torch.Tensor:
    for _ in range(iters):
        acc = x.clone()
        acc[..., :, 1:] += wx * x[..., :, :-1]
        acc[..., :, :-1] += wx * x[..., :, 1:]
        acc[..., 1:, :] += wy * x[..., :-1, :]
        acc[..., :-1, :] += wy * x[..., 1:, :]
        x = acc / norm
    return x


def propagate(luma, hint_ab, mask, boundary, sigma: float = SIGMA, fine_iters: int = FINE_ITERS,
              coarse_iters: int = COARSE_ITERS):
    """luma, mask, boundary: (B,1,H,W) in [0,1]; hint_ab: (B,2,H,W) (any units).

    Returns (ab, support): (B,2,H,W) propagated chroma (0 where unsupported) and
    (B,1,H,W) support in [0,1).
    """
    state = torch.cat([hint_ab * mask, mask], dim=1)
    pyramid = [(luma, state, boundary)]
    while min(pyramid[-1][0].shape[-2:]) >= 2 * MIN_SIDE:
        l, s, b = pyramid[-1]
        pyramid.append((F.avg_pool2d(l, 2, ceil_mode=True), F.avg_pool2d(s, 2, ceil_mode=True),
                        F.max_pool2d(b, 2, ceil_mode=True)))
    carried = None
    for l, s, b in reversed(pyramid):
        wx, wy, norm = _neighbour_weights(l, b, sigma)
        if carried is None:
            s = _diffuse(s, wx, wy, norm, coarse_iters)
        else:
            s = _diffuse(s, wx, wy, norm, LOCAL_ITERS)
            own = s[:, -1:] / (s[:, -1:] + 1e-3)  # how well this level's hints cover a pixel
            # Numerator and denominator are upsampled separately, so barrier pixels
            # (which hold nothing) keep the two sides of a stroke apart.
            s = s + F.interpolate(carried, size=s.shape[-2:], mode="bilinear", align_corners=False) * (1 - own)
            s = _diffuse(s, wx, wy, norm, fine_iters)
        carried = s * (1.0 - b)
    num, den = carried[:, :-1], carried[:, -1:]
    # Stroke pixels themselves take the average of their open neighbours.
    b = boundary
    if bool(b.any()):
        filled = carried
        for _ in range(3):
            pooled = F.avg_pool2d(filled, 3, 1, 1, count_include_pad=False)
            filled = filled * (1 - b) + pooled * b
        num, den = filled[:, :-1], filled[:, -1:]
    ab = torch.where(den > 1e-8, num / den.clamp_min(1e-8), torch.zeros_like(num))
    support = den / (den + 1e-3)
    return ab, support
