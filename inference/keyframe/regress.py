"""Hint colors regressed in deep-feature space (the engine's starting answer).

Every pixel takes a softmax-weighted mean of the color points' a/b (Nadaraya-Watson
kernel regression, as in KNN matting, Chen et al. 2013). A point's kernel at a pixel is
the product of three similarities:
- semantic: cosine similarity of the frozen EfficientNet-Lite0 features at strides 8, 16
  and 32 (each unit-normalised at its own resolution, upsampled and averaged), with a
  temperature;
- position: a Gaussian of the distance, sigma a fraction of the long side;
- luma: a Gaussian of the luma difference.
The kernel is 1 at a pixel identical to the point in all three, so the unnormalized sum
(`density`) says how well the points cover a pixel; the engine turns it into a confidence.
Points beyond a boundary stroke (in another region the strokes close off) do not count.
A point reaches a pixel only as far as the network, without points, finds the point's color
plausible there (`plausibility`): the points' likelihood weighed by the network's prior, so
that a point on a small red object does not paint a sky the network is sure is blue.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from inference.keyframe.bins import GRID, ab_bins

TEMPERATURE = 0.1
SIGMA_POSITION = 0.25  # fraction of the long side
SIGMA_LUMA = 0.1
SIGMA_RESIDUAL = 1.0  # fraction of the long side: the residual shift is nearly global
SUPPORT_HALF = 1e-4  # the points' density at which the network's support input is 0.5


@dataclass
class Points:
    """K color points at the working size: centres (K, 2) as (x, y) pixels, a/b (K, 2)."""
    xy: np.ndarray
    ab: np.ndarray

    def __len__(self):
        return len(self.xy)

    def pixels(self, h: int, w: int):
        """(rows, cols) int arrays (K,): the pixel nearest each centre, inside an h x w frame."""
        return (np.clip(np.round(self.xy[:, 1]).astype(int), 0, h - 1),
                np.clip(np.round(self.xy[:, 0]).astype(int), 0, w - 1))


def regress(feats, luma: np.ndarray, points: Points, regions: np.ndarray | None = None,
            reach: torch.Tensor | None = None, temperature: float = TEMPERATURE,
            sigma_position: float = SIGMA_POSITION, sigma_luma: float = SIGMA_LUMA):
    """feats: backbone features, each (1, C, h, w) torch; luma HxW float in [0, 1] at the
    working size; regions: optional HxW int labels of the areas strokes close off; reach:
    optional (K, H, W) float factor in [0, 1] on each point's kernel (`plausibility`).

    Returns (ab HxWx2 float32 in Lab units, density HxW float32 >= 0). With no points,
    a/b is 0 and the density 0.
    """
    h, w = luma.shape
    k = len(points)
    if k == 0:
        return np.zeros((h, w, 2), np.float32), np.zeros((h, w), np.float32)
    xy = torch.from_numpy(points.xy.astype(np.float32))
    # Sample positions in grid_sample's convention (align_corners=False).
    grid = torch.stack([2 * (xy[:, 0] + 0.5) / w - 1, 2 * (xy[:, 1] + 0.5) / h - 1], -1)[None, None]
    sim = torch.zeros(k, h, w)
    with torch.no_grad():
        for f in feats:
            f = F.normalize(f.float().cpu(), dim=1)
            at = F.normalize(F.grid_sample(f, grid, mode="bilinear", align_corners=False)[0, :, 0], dim=0)  # (C, K)
            s = torch.einsum("ck,chw->khw", at, f[0])
            sim += F.interpolate(s[None], size=(h, w), mode="bilinear", align_corners=False)[0]
    sim /= len(feats)
    logits = (sim - 1.0) / temperature + _position_logits(points, h, w, sigma_position)
    smooth = cv2.blur(luma.astype(np.float32), (3, 3))
    rows, cols = points.pixels(h, w)
    luma_t = torch.from_numpy(luma.astype(np.float32))
    point_luma = torch.from_numpy(smooth[rows, cols])
    logits -= (luma_t[None] - point_luma[:, None, None]) ** 2 / (2 * sigma_luma ** 2)
    if reach is not None:
        logits += torch.log(reach.clamp_min(1e-12))
    return _kernel_mean(logits, points.ab, points, regions)


def residual_shift(points: Points, residual: np.ndarray, size: tuple[int, int], regions: np.ndarray | None = None,
                   sigma: float = SIGMA_RESIDUAL) -> np.ndarray:
    """HxWx2 float32 (Lab units): the points' residuals against the network's colors without
    points, spread over the frame by a wide Gaussian of position (a kernel-weighted mean).

    residual: (K, 2) each point's a/b minus the hint-free network's a/b at its pixel; size (H, W);
    regions as in `regress` (a residual stays in its stroke-closed region; 0 in a region without
    points); sigma: fraction of the long side. One point says what the network got wrong about the
    whole picture (a tint, a season, a film stock) as well as about its own object; the engine
    takes a share of this for the pixels its points do not reach. 0 without points.
    """
    h, w = size
    if not len(points):
        return np.zeros((h, w, 2), np.float32)
    if regions is None:
        # The Gaussian is separable: sums over the points are two small matrix products (a live
        # preview with 50 points would otherwise spend 60 ms here).
        scale = 2 * (sigma * max(h, w)) ** 2
        gy = np.exp(-(np.arange(h, dtype=np.float32)[:, None] - points.xy[None, :, 1]) ** 2 / scale)  # (H, K)
        gx = np.exp(-(np.arange(w, dtype=np.float32)[None, :] - points.xy[:, :1]) ** 2 / scale)  # (K, W)
        values = np.concatenate([np.asarray(residual, np.float32), np.ones((len(points), 1), np.float32)], 1)
        sums = np.stack([(gy * v) @ gx for v in values.T], -1)  # (H, W, 3): weighted residual a, b; weight
        if sums[..., 2].min() > 1e-20:
            return (sums[..., :2] / sums[..., 2:]).astype(np.float32)
    return _kernel_mean(_position_logits(points, h, w, sigma), residual, points, regions)[0]


def _position_logits(points: Points, h: int, w: int, sigma: float) -> torch.Tensor:
    """(K, H, W) log of a Gaussian of the distance to each point, sigma a fraction of the long side."""
    xy = torch.from_numpy(points.xy.astype(np.float32))
    side = max(h, w)
    ys, xs = torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32)
    dx2 = ((xs[None, :] - xy[:, :1]) / side) ** 2  # (K, W)
    dy2 = ((ys[None, :] - xy[:, 1:]) / side) ** 2  # (K, H)
    return -(dy2[:, :, None] + dx2[:, None, :]) / (2 * sigma ** 2)


def _kernel_mean(logits: torch.Tensor, values: np.ndarray, points: Points, regions: np.ndarray | None):
    """The kernel-weighted mean of the points' values (K, 2) under log-kernels (K, H, W), each point
    kept to its stroke-closed region: (mean HxWx2, kernel sum HxW) float32, both 0 where no point counts."""
    if regions is not None:
        rows, cols = points.pixels(*logits.shape[1:])
        same = torch.from_numpy(regions[None] == regions[rows, cols][:, None, None])
        logits = torch.where(same, logits, torch.full_like(logits, -torch.inf))
    top = logits.amax(0)
    finite = torch.isfinite(top)
    weights = torch.exp(logits - torch.where(finite, top, 0.0)[None])
    total = weights.sum(0)
    mean = torch.einsum("khw,kc->hwc", weights, torch.from_numpy(np.asarray(values, np.float32)))
    mean = torch.where(finite[..., None], mean / total.clamp_min(1e-12)[..., None], 0.0)
    density = torch.where(finite, total * torch.exp(top), 0.0)
    return mean.numpy().astype(np.float32), density.numpy().astype(np.float32)


def plausibility(probs: torch.Tensor, points: Points, size: tuple[int, int]) -> torch.Tensor:
    """(K, H, W) float32 in [0, 1]: how plausible each point's color is at every pixel, relative
    to the point's own pixel and capped at 1 (`regress`'s reach).

    probs: (Q, h, w) the network's a/b-bin distribution without points (Zhang et al. 2016 bins,
    `bins.ab_bins`), at any resolution; size: (H, W) of the points' frame. A color's
    plausibility at a pixel is the distribution's mass near it (a Gaussian of one bin width).
    A color the network finds as likely at a pixel as at the point reaches there fully; one it
    rules out there (a red point against a sky the network is sure of) hardly at all.
    """
    h, w = size
    centres = torch.from_numpy(ab_bins())
    near = torch.exp(-torch.cdist(torch.from_numpy(points.ab.astype(np.float32)), centres) ** 2 / (2 * GRID ** 2))
    mass = torch.einsum("kq,qhw->khw", near, probs.float().cpu())
    mass = F.interpolate(mass[None], size=(h, w), mode="bilinear", align_corners=False)[0]
    rows, cols = points.pixels(h, w)
    at_point = mass[torch.arange(len(points)), torch.from_numpy(rows), torch.from_numpy(cols)]
    return (mass / at_point.clamp_min(1e-12)[:, None, None]).clamp(max=1.0)


def starting_answer(ab: np.ndarray, density: np.ndarray):
    """The network's starting answer from the points' regression (`regress`'s a/b HxWx2 and
    density HxW), as tensors: (a/b (1,2,H,W) float32 in Lab units, support (1,1,H,W) in [0, 1],
    density / (density + SUPPORT_HALF)). Both are 0 where no point reaches.
    """
    support = density / (density + SUPPORT_HALF)
    return (torch.from_numpy(ab).permute(2, 0, 1)[None].contiguous(),
            torch.from_numpy(support.astype(np.float32))[None, None])


def stroke_regions(boundary: np.ndarray) -> np.ndarray | None:
    """HxW int labels of the areas that the boundary strokes (HxW, nonzero on a stroke) close
    off, 4-connected; None without strokes."""
    if not boundary.any():
        return None
    return cv2.connectedComponents((boundary == 0).astype(np.uint8), connectivity=4)[1]
