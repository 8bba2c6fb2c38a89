"""Color points carried from one keyframe to another frame of the shot, along the propagation's motion.

A point is followed frame by frame on the DIS optical flow at the propagation's working resolution
(the same motion that carries the keyframe's chroma), sampling the flow at the point's sub-pixel
position. Its confidence is the product, over the steps, of the flow's round-trip consistency there
(Sundaram et al. 2010, as `flow.consistency`), times how well the luma patch around the point at
its end matches the one it started from: a point that was occluded, left the picture or landed on
something else is not worth proposing.
"""
from __future__ import annotations

from typing import Iterable

import cv2
import numpy as np

from inference.color import to_uint8, working_size
from inference.media import MIN_FRAME_SIDE

from .flow import MotionEstimator, consistency

TRACK_LONG_SIDE = 320  # as the propagation's working resolution
PATCH_RADIUS = 3  # working pixels: the luma patch compared at the ends of a track
PATCH_TOLERANCE = 0.08  # mean absolute luma difference (0..1) at which the patch match counts 1/e


def track_points(frames: Iterable[np.ndarray], xy: np.ndarray, long_side: int = TRACK_LONG_SIDE
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Follow points through `frames` (luma, uint8 or float in [0, 1], HxW, all one size; the
    first is the frame the points are on, the last where they are wanted; either direction in time).

    xy: (K, 2) float (x, y) source pixels on the first frame. Returns (xy (K, 2) float32 source
    pixels on the last frame, confidence (K,) float32 in [0, 1]). ValueError for frames of
    different sizes or smaller than MIN_FRAME_SIDE.
    """
    xy = np.asarray(xy, np.float32).reshape(-1, 2)
    motion = MotionEstimator()
    first = work = None
    confidence = np.ones(len(xy), np.float32)
    for frame in frames:
        frame = np.asarray(frame)
        if first is None:
            if min(frame.shape[:2]) < MIN_FRAME_SIDE:
                raise ValueError(f"frames of {frame.shape[1]}x{frame.shape[0]} are too small to track points on")
            height, width = frame.shape[:2]
            work_h, work_w = working_size(height, width, min(long_side, max(height, width)), multiple=8)
            work_h, work_w = max(work_h, MIN_FRAME_SIDE), max(work_w, MIN_FRAME_SIDE)
            scale = np.array([work_w / width, work_h / height], np.float32)
            first = work = _small(frame, (work_w, work_h))
            at = (xy + 0.5) * scale - 0.5
            continue
        if frame.shape[:2] != (height, width):
            raise ValueError(f"frame of {frame.shape[1]}x{frame.shape[0]} in a shot of {width}x{height}")
        after = _small(frame, (work_w, work_h))
        forward, backward = motion.pair(work, after)  # here -> next, next -> here
        step = _sample(forward, at)
        confidence *= _sample(consistency(forward, backward)[..., None], at)[:, 0]
        at = at + step
        inside = (at[:, 0] >= 0) & (at[:, 0] <= work_w - 1) & (at[:, 1] >= 0) & (at[:, 1] <= work_h - 1)
        confidence *= inside
        at = np.clip(at, 0, [work_w - 1, work_h - 1])
        work = after
    if first is None:
        raise ValueError("no frames to track points through")
    if work is not first:
        start = (xy + 0.5) * scale - 0.5
        confidence *= np.exp(-_patch_difference(first, start, work, at) / PATCH_TOLERANCE)
    return ((at + 0.5) / scale - 0.5).astype(np.float32), confidence.astype(np.float32)


def _small(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """8-bit luma at the working size (DIS takes 8-bit images)."""
    return cv2.resize(frame if frame.dtype == np.uint8 else to_uint8(frame), size, interpolation=cv2.INTER_AREA)


def _sample(field: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Bilinear samples (K, C) of an HxWxC float field at (K, 2) (x, y) positions."""
    maps = at.reshape(1, -1, 2).astype(np.float32)
    values = cv2.remap(np.ascontiguousarray(field, np.float32), maps[..., 0], maps[..., 1], cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_REPLICATE)
    return values.reshape(len(at), -1)


def _patch_difference(before: np.ndarray, start: np.ndarray, after: np.ndarray, end: np.ndarray) -> np.ndarray:
    """(K,) mean absolute luma difference (0..1) of the patches around start in `before` and end in `after`."""
    offsets = np.stack(np.meshgrid(np.arange(-PATCH_RADIUS, PATCH_RADIUS + 1),
                                   np.arange(-PATCH_RADIUS, PATCH_RADIUS + 1)), -1).reshape(-1, 2).astype(np.float32)
    a = _sample(before.astype(np.float32)[..., None] / 255, (start[:, None] + offsets).reshape(-1, 2))
    b = _sample(after.astype(np.float32)[..., None] / 255, (end[:, None] + offsets).reshape(-1, 2))
    return np.abs(a - b).reshape(len(start), -1).mean(1)
