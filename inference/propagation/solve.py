"""Chroma that follows the frame's own edges: an edge-aware, confidence-weighted least-squares solve.

After fusion, a frame's a/b is the data term of

    E(x) = sum_i c_i |x_i - d_i|^2 + sum_i t_i |x_i - p_i|^2
           + strength * sum_(i,j neighbours) w_ij |x_i - x_j|^2,
    w_ij = exp(-((luma_i - luma_j) / sigma)^2)

(the weighted-least-squares colorization of Levin et al. 2004 with a per-pixel data weight, as
the keyframe engine's solve; Farbman et al. 2008). Where the carried chroma is confident
(c near 1) and the frame has edges, x stays at d; where the luma is flat, chroma edges the
frame does not have (blocks of the flow field) are smoothed away; where confidence is low
(occlusions, trails, newly visible regions), the color comes from confident pixels of the same
region and stops at the frame's edges. The optional second data term holds each pixel to p, the
previous frame's solved chroma carried onto this one (weight t: how well the flow holds there), so
that chroma the fusion is unsure of does not change from frame to frame (flicker).

Solved by alternating line relaxation: all rows at once as one tridiagonal system (the
vertical terms taken from the current estimate), then all columns, repeated. Each pass is one
single-precision LAPACK tridiagonal solve (?gtsv), so a 320x176 frame takes about ten
milliseconds; the result is a deterministic function of its inputs.
"""
from __future__ import annotations

import numpy as np
from scipy.linalg import lapack

# Chosen on validation clips (see the model card): edge scale in luma units (0..1), smoothing
# strength against a data weight of 1, sweeps (row + column passes), and the data weight a
# fully unconfident pixel keeps (so a region no confident pixel reaches keeps its fused color).
SIGMA = 0.02
STRENGTH = 4.0
SWEEPS = 3
FLOOR = 0.005
SURE = 0.1  # confidence 1 gets data weight 1 / SURE


def edge_weights(luma: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """(horizontal H x W-1, vertical H-1 x W) neighbour weights in (0, 1]: near 0 across a luma edge."""
    return (np.exp(-np.square(np.diff(luma, axis=1) / sigma)).astype(np.float32),
            np.exp(-np.square(np.diff(luma, axis=0) / sigma)).astype(np.float32))


class _Lines:
    """Every line (row) of one direction as one tridiagonal system, the lines side by side and
    uncoupled (the off-diagonal is zero at each line's end), solved by LAPACK's ?gtsv.

    weight H x W data weights, along H x W-1 weights within lines, across H-1 x W weights between
    them (already scaled by the strength); the terms across lines are taken from an estimate.
    """

    def __init__(self, weight: np.ndarray, along: np.ndarray, across: np.ndarray):
        self.alone = weight.copy()  # the diagonal without the terms across lines
        self.alone[:, 1:] += along
        self.alone[:, :-1] += along
        self.coupled = self.alone.copy()
        self.coupled[1:] += across
        self.coupled[:-1] += across
        off = np.zeros_like(weight)
        off[:, :-1] = -along
        self.off = off.ravel()[:-1]
        self.across = across[..., None]

    def solve(self, rhs: np.ndarray, current: np.ndarray | None) -> np.ndarray:
        """rhs H x W x C (data weight * data); current: H x W x C estimate whose neighbouring lines
        enter the right-hand side, or None to solve every line on its own."""
        diagonal = self.alone
        if current is not None:
            diagonal = self.coupled
            rhs = rhs.copy()
            rhs[1:] += self.across * current[:-1]
            rhs[:-1] += self.across * current[1:]
        *_, solved, _ = lapack.sgtsv(self.off, diagonal.ravel(), self.off, rhs.reshape(self.off.size + 1, -1))
        return solved.reshape(rhs.shape)


def edge_aware_solve(luma: np.ndarray, ab: np.ndarray, confidence: np.ndarray, strength: float | None = None,
                     sigma: float | None = None, sweeps: int | None = None,
                     previous: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Minimise E(x) above for a/b given the frame's luma.

    luma: H x W float32 in [0, 1]; ab: H x W x 2 float32 (Lab a/b, the data d); confidence:
    H x W in [0, 1] (the data weight c, floored at FLOOR); previous: optional (a/b H x W x 2, weight
    H x W >= 0), the previous frame's solved a/b warped onto this one and how much to hold to it,
    a second data term t_i |x_i - p_i|^2 that keeps colors steady from frame to frame (flicker).
    Returns H x W x 2 float32. Raises ValueError when the shapes disagree.
    """
    if ab.shape[:2] != luma.shape or confidence.shape != luma.shape:
        raise ValueError(f"luma {luma.shape}, a/b {ab.shape} and confidence {confidence.shape} differ in size")
    if previous is not None and (previous[0].shape != ab.shape or previous[1].shape != luma.shape):
        raise ValueError(f"the previous frame's a/b {previous[0].shape} and weight {previous[1].shape} do not fit "
                         f"luma {luma.shape}")
    strength = STRENGTH if strength is None else strength
    sweeps = SWEEPS if sweeps is None else sweeps
    horizontal, vertical = (strength * w for w in edge_weights(luma.astype(np.float32), sigma or SIGMA))
    # Confidence c in [0, 1] becomes a data weight that grows without bound as c nears 1, so chroma
    # the engine is sure of stays put while unsure pixels are filled from their region.
    confidence = np.clip(confidence.astype(np.float32), 0.0, 1.0)
    weight = FLOOR + confidence / (1.0 + SURE - confidence)
    rhs = weight[..., None] * ab
    if previous is not None:  # two quadratic data terms are one: summed weights, weighted mean
        held = previous[1].astype(np.float32)
        rhs += held[..., None] * previous[0]
        weight = weight + held
    rows = _Lines(weight, horizontal, vertical)
    columns = _Lines(np.ascontiguousarray(weight.T), np.ascontiguousarray(vertical.T),
                     np.ascontiguousarray(horizontal.T))
    rhs_columns = np.ascontiguousarray(rhs.transpose(1, 0, 2))
    x = ab.astype(np.float32)
    for sweep in range(sweeps):
        # The first row pass ignores the rows around it: a coherent smear (a trail) would otherwise
        # hold itself in place through its vertical neighbours for many sweeps.
        x = rows.solve(rhs, x if sweep else None)
        x = columns.solve(rhs_columns, np.ascontiguousarray(x.transpose(1, 0, 2))).transpose(1, 0, 2)
    return np.ascontiguousarray(x)
