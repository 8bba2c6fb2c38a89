"""Colorization using Optimization (Levin, Lischinski and Weiss, SIGGRAPH 2004).

The classical baseline of the keyframe engine: every unhinted pixel's chroma is the
affinity-weighted average of its 3x3 neighbours' (weights from luma similarity, as
in the authors' reference code), hinted pixels are fixed, and the sparse linear
system is solved exactly. Boundary strokes cut the affinities, and a region a
stroke closes off without any hint of its own stays neutral.
"""
from __future__ import annotations

import cv2
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

OFFSETS = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]  # the 3x3 neighbours


def affinities(luma: np.ndarray):
    """Levin's luma affinities: HxW luma in [0, 1] -> ((8, H, W) float64 weights from each pixel
    toward its neighbour at OFFSETS[k], each pixel's Gaussian sigma from its 3x3 window's variance
    as in the authors' code, not yet normalized; (8, H, W) bool mask of in-image neighbours)."""
    h, w = luma.shape
    pad = np.pad(luma.astype(np.float64), 1, mode="edge")
    neigh = np.stack([pad[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w] for dy, dx in OFFSETS])
    inside = np.stack([np.pad(np.ones((h, w), bool), 1)[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]
                       for dy, dx in OFFSETS])
    window = np.concatenate([neigh, luma[None].astype(np.float64)])
    window_inside = np.concatenate([inside, np.ones((1, h, w), bool)])
    count = window_inside.sum(0)
    mean = (window * window_inside).sum(0) / count
    var = (((window - mean) ** 2) * window_inside).sum(0) / count
    diff2 = (neigh - luma[None]) ** 2
    sigma = var * 0.6
    min_diff = np.where(inside, diff2, np.inf).min(0)
    sigma = np.maximum(sigma, -min_diff / np.log(0.01))
    sigma = np.maximum(sigma, 2e-6)
    weights = np.exp(-diff2 / sigma[None]) * inside
    return weights, inside


def colorize_ab(luma: np.ndarray, hint_ab: np.ndarray, mask: np.ndarray, boundary: np.ndarray | None = None):
    """luma HxW in [0,1]; hint_ab HxWx2 and mask HxW (hinted where > 0); boundary HxW (1 on strokes).

    Returns HxWx2 float32 a/b.
    """
    h, w = luma.shape
    n = h * w
    known = mask.reshape(-1) > 0
    out = np.zeros((n, 2), np.float64)
    if not known.any():
        return out.reshape(h, w, 2).astype(np.float32)
    weights, inside = affinities(luma)
    barrier = np.zeros((h, w), bool) if boundary is None else boundary > 0
    if barrier.any():
        # Nothing flows through a stroke; stroke pixels still take their neighbours' average.
        pad = np.pad(barrier, 1)
        to_barrier = np.stack([pad[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w] for dy, dx in OFFSETS])
        weights = np.where(to_barrier & ~barrier[None], 0.0, weights)
        weights = np.where(barrier[None], inside.astype(np.float64), weights)
        # Regions (between strokes) with no hint stay neutral.
        _, labels = cv2.connectedComponents((~barrier).astype(np.uint8), connectivity=4)
        hinted = np.unique(labels.reshape(-1)[known])
        orphan = (labels.reshape(-1) > 0) & ~np.isin(labels.reshape(-1), hinted)
        known = known | orphan
    total = weights.sum(0)
    weights = weights / np.maximum(total, 1e-12)[None]
    out[known] = np.where(mask.reshape(-1, 1)[known] > 0, hint_ab.reshape(-1, 2)[known], 0.0)

    index = np.arange(n).reshape(h, w)
    rows, cols, vals = [index.reshape(-1)], [index.reshape(-1)], [np.ones(n)]
    for k, (dy, dx) in enumerate(OFFSETS):
        ys, xs = np.nonzero(inside[k])
        r = index[ys, xs]
        free = ~known[r]
        rows.append(r[free])
        cols.append(index[ys + dy, xs + dx][free])
        vals.append(-weights[k, ys, xs][free])
    A = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
    b = np.where(known[:, None], out, 0.0)
    solve = spla.factorized(A.tocsc())
    for c in range(2):
        out[:, c] = solve(b[:, c])
    return out.reshape(h, w, 2).astype(np.float32)
