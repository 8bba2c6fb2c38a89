"""Confidence-weighted, edge-aware chroma solve on luma (reusable by any engine).

Given a luma image, a target chroma plane with a per-pixel confidence, and pixels whose
chroma is fixed (color hints), find the chroma x that minimizes

    sum_(i,j neighbours) w_ij |x_i - x_j|^2  +  sum_i lam * c_i * d_i |x_i - t_i|^2

with x = fixed at the fixed pixels. w_ij are the 3x3-window luma affinities of Levin,
Lischinski and Weiss 2004 ("Colorization using Optimization"), symmetrized, with d_i their
row sums, so lam is the pull relative to one neighbourhood (lam = 0 is Levin's system
itself, up to the symmetrization). Boundary strokes cut every affinity that touches them;
stroke pixels take their neighbours' mean without passing anything across.

The quadratic is solved by preconditioned conjugate gradients (Jacobi preconditioner,
both chroma channels at once, fixed pixels projected out), warm-started from a guess,
typically the target. The affinities depend on the luma and strokes alone: `Affinity`
holds them, so a live preview re-solves after a hint edit without rebuilding them.

    aff = Affinity(luma, boundary)                      # luma HxW float in [0, 1]
    ab = aff.solve(target, confidence, fixed_ab, fixed_mask, lam=0.01)
"""
from __future__ import annotations

import cv2
import numpy as np
import scipy.sparse as sp

from inference.levin import OFFSETS, affinities

# The four edge directions of the 3x3 neighbourhood; each edge is stored once.
_EDGES = ((0, 1), (1, 0), (1, 1), (1, -1))


def _ends(shape, dy: int, dx: int):
    """Slices of the two ends (p, q = p + (dy, dx)) of every in-image edge of a direction."""
    h, w = shape
    p = (slice(0, h - dy), slice(max(0, -dx), w - max(0, dx)))
    q = (slice(dy, h), slice(max(0, dx), w + min(0, dx)))
    return p, q


class Affinity:
    """Symmetric edge-aware affinities of a luma image: the graph Laplacian of its 8-neighbour
    grid, as an N x N sparse matrix (N = H*W, row-major pixels).

    luma: HxW float in [0, 1]. boundary: optional HxW, > 0 on boundary strokes.
    """

    def __init__(self, luma: np.ndarray, boundary: np.ndarray | None = None):
        h, w = self.shape = luma.shape
        weights, _ = affinities(luma)
        self.barrier = np.zeros(self.shape, bool) if boundary is None else boundary > 0
        open_ = ~self.barrier
        index = np.arange(h * w, dtype=np.int32).reshape(h, w)
        degree = np.full(self.shape, 1e-6)
        rows, cols, vals = [], [], []
        for dy, dx in _EDGES:
            p, q = _ends(self.shape, dy, dx)
            # Levin's weights use each centre's own variance: average the two directions.
            wpq = 0.5 * (weights[OFFSETS.index((dy, dx))][p] + weights[OFFSETS.index((-dy, -dx))][q])
            # Nothing couples to a stroke pixel, so nothing crosses a stroke.
            wpq = wpq * (open_[p] & open_[q])
            degree[p] += wpq
            degree[q] += wpq
            rows += [index[p].ravel(), index[q].ravel()]
            cols += [index[q].ravel(), index[p].ravel()]
            vals += [-wpq.ravel(), -wpq.ravel()]
        self.degree = degree.ravel().astype(np.float32)
        rows.append(index.ravel()), cols.append(index.ravel()), vals.append(self.degree)
        self.laplacian = sp.csr_matrix((np.concatenate(vals).astype(np.float32),
                                        (np.concatenate(rows), np.concatenate(cols))), shape=(h * w,) * 2)

    def solve(self, target: np.ndarray, confidence: np.ndarray, fixed_ab: np.ndarray | None = None,
              fixed_mask: np.ndarray | None = None, lam: float = 0.01, guess: np.ndarray | None = None,
              tol: float = 0.02, max_iter: int = 300) -> np.ndarray:
        """HxWx2 target (Lab a/b), HxW confidence in [0, 1], optional HxWx2 fixed_ab with HxW
        fixed_mask (> 0: fixed) -> HxWx2 float32 a/b. `guess` (default: the target) warm-starts
        the solve; it stops when the Jacobi-preconditioned residual (a/b units, RMS) is under `tol`
        or after `max_iter` iterations. A pixel with no confidence and no path to a fixed pixel
        keeps its guess.
        """
        h, w = self.shape
        n = h * w
        # Channels first (2, N): the sparse products and the reductions run on contiguous rows.
        t = np.ascontiguousarray(target.reshape(n, 2).T, dtype=np.float32)
        x = t.copy() if guess is None else np.ascontiguousarray(guess.reshape(n, 2).T, dtype=np.float32)
        data = (lam * np.clip(confidence.reshape(n), 0, None) * self.degree).astype(np.float32)
        barrier = self.barrier.reshape(n)
        fixed = np.zeros(n, bool) if fixed_mask is None else (fixed_mask.reshape(n) > 0) & ~barrier
        if fixed.any():
            x[:, fixed] = fixed_ab.reshape(n, 2)[fixed].T
        free = (~fixed & ~barrier).astype(np.float32)  # stroke pixels are filled afterwards
        inv_diag = free / (self.degree + data)

        def apply(v):  # (L + diag(data)) v on the free pixels
            out = np.stack([self.laplacian @ v[0], self.laplacian @ v[1]])
            out += data * v
            out *= free
            return out

        r = data * t - apply(x)
        z = r * inv_diag
        p = z.copy()
        rz = np.einsum("cn,cn->c", r, z)
        self.iterations = 0  # of the last solve: diagnostics
        for self.iterations in range(max_iter):
            if np.sqrt(np.einsum("cn,cn->", z, z) / z.size) <= tol:
                break
            Ap = apply(p)
            alpha = (rz / np.maximum(np.einsum("cn,cn->c", p, Ap), 1e-30))[:, None]
            x += alpha * p
            r -= alpha * Ap
            np.multiply(r, inv_diag, out=z)
            rz_new = np.einsum("cn,cn->c", r, z)
            p *= (rz_new / np.maximum(rz, 1e-30))[:, None]
            p += z
            rz = rz_new
        x = x.T.reshape(h, w, 2)
        if self.barrier.any():
            x = _fill_strokes(x, self.barrier)
        return x


def _fill_strokes(ab: np.ndarray, barrier: np.ndarray, rounds: int = 3) -> np.ndarray:
    """Stroke pixels take the mean of their open 3x3 neighbours (a few rounds for wide strokes)."""
    known = (~barrier).astype(np.float32)
    ab = ab * known[..., None]
    for _ in range(rounds):
        num = cv2.blur(ab.astype(np.float32), (3, 3))
        den = cv2.blur(known, (3, 3))
        filled = np.where(den[..., None] > 0, num / np.maximum(den, 1e-6)[..., None], 0.0)
        ab = np.where(known[..., None] > 0, ab, filled)
        known = np.maximum(known, (den > 0).astype(np.float32))
    return ab
