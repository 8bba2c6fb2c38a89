"""Motion at the working resolution: DIS optical flow, warping, and how far a warp can be trusted.

Flows are HxWx2 float32 in pixels, "backward" style: flow[y, x] is where pixel
(x, y) of the frame being filled came from in the other frame, so a warp is one
cv2.remap. Everything here is deterministic: DIS has no random state and remap
is a pure gather.
"""
from __future__ import annotations

import cv2
import numpy as np

# DIS "medium" at ~320 px wide costs a few ms a pair and follows large motion far better than "fast".
DIS_PRESET = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM


class MotionEstimator:
    """Dense flow between two 8-bit luma images, both directions."""

    def __init__(self, preset: int = DIS_PRESET):
        self._dis = cv2.DISOpticalFlow_create(preset)

    def flow(self, target: np.ndarray, source: np.ndarray) -> np.ndarray:
        """Flow that pulls `source` onto `target` (target pixel -> source position offset)."""
        return self._dis.calc(target, source, None)

    def pair(self, target: np.ndarray, source: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(target -> source, source -> target) flows."""
        return self.flow(target, source), self.flow(source, target)


_GRIDS: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}


def pixel_grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) pixel coordinates, each H x W float32, cached per size (callers must not write them)."""
    grid = _GRIDS.get((height, width))
    if grid is None:
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
        grid = _GRIDS[(height, width)] = (xs, ys)
    return grid


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Sample `image` at pixel + flow (bilinear, edges replicated)."""
    xs, ys = pixel_grid(*flow.shape[:2])
    return cv2.remap(image, xs + flow[..., 0], ys + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def inside(flow: np.ndarray) -> np.ndarray:
    """1 where pixel + flow lands inside the other frame, 0 where it left the picture."""
    height, width = flow.shape[:2]
    xs, ys = pixel_grid(height, width)
    x, y = xs + flow[..., 0], ys + flow[..., 1]
    return ((x >= 0) & (x <= width - 1) & (y >= 0) & (y <= height - 1)).astype(np.float32)


def consistency(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """Soft confidence in [0, 1] of `forward` (target -> source) from the round trip through `backward`.

    Sundaram et al.'s occlusion test made smooth: the round trip target -> source -> target
    should come home; it fails at occlusions and where the flow is simply wrong.
    """
    back = warp(backward, forward)
    fx, fy = cv2.split(forward)
    bx, by = cv2.split(back)
    error = np.square(fx + bx) + np.square(fy + by)
    tolerance = 0.01 * (fx * fx + fy * fy + bx * bx + by * by) + 0.5
    return np.exp(-error / tolerance) * inside(forward)


def compose(step: np.ndarray, accumulated: np.ndarray) -> np.ndarray:
    """Flow to a far frame through a near one: step (here -> near) then accumulated (near -> far)."""
    return step + warp(accumulated, step)
