"""Where to key a shot: how far the propagation carries color, and the fewest keyframes that hold it.

A quick pass over the shot (optical flow between consecutive frames at a low resolution, seconds
for a whole shot, long before any render) measures each step's carry: the share of a frame the
propagation can bring to the next one, the mean over pixels of the flow's round-trip consistency
times the warped luma's agreement (the same two terms that make the propagation's own confidence,
`engine.FrameConfidence`). Carried over many frames the shares multiply, so in
`distance = -sum(log carry)` a frame's confidence from a keyframe is exp(-|distance between them|),
and the nearer keyframe on either side decides. Keeping every frame at or above a level is then
covering points on a line with intervals of half-width -log(level): the greedy cover (each new
keyframe as far on as the first uncovered frame allows) is the smallest one. Each keyframe is then
moved to the middle (in distance) of the frames it must hold, which keeps the cover and puts it
where a colorist would: not on the last frame before a cut.
"""
from __future__ import annotations

import time
from typing import Iterable, Sequence

import cv2
import numpy as np

from inference.color import to_uint8

from .flow import MotionEstimator, consistency, warp

STEP_LONG_SIDE = 160  # pixels: enough to follow motion, quick for a whole shot
# A pixel is carried when the flow's round trip comes home (consistency over FOLLOWED) and the
# warped luma matches (difference under LUMA_TOLERANCE, 0..1): what fails both is occluded,
# newly seen or lost, and its color must come from elsewhere.
FOLLOWED, LUMA_TOLERANCE = 0.3, 0.1
MIN_CARRY = 1e-6  # a cut carries nothing; kept finite for the logarithm


def carry_steps(frames: Iterable[np.ndarray]) -> np.ndarray:
    """(n - 1,) float32 in (0, 1]: for consecutive frames (luma HxW, uint8 or float in [0, 1],
    any one size), the share of each frame's color the propagation carries to the next."""
    motion, previous, steps = MotionEstimator(), None, []
    for frame in frames:
        frame = np.ascontiguousarray(frame)
        if frame.dtype != np.uint8:
            frame = to_uint8(frame)
        scale = min(1.0, STEP_LONG_SIDE / max(frame.shape[:2]))
        if scale < 1:
            frame = cv2.resize(frame, (max(16, round(frame.shape[1] * scale)), max(16, round(frame.shape[0] * scale))),
                               interpolation=cv2.INTER_AREA)
        if previous is not None:
            to_previous, to_next = motion.pair(frame, previous)  # this -> previous, previous -> this
            agree = np.abs(warp(previous, to_previous).astype(np.float32) - frame) / 255 < LUMA_TOLERANCE
            steps.append(float(((consistency(to_previous, to_next) > FOLLOWED) & agree).mean()))
        previous = frame
    return np.clip(np.array(steps, np.float32), MIN_CARRY, 1.0)


def _distance(steps: np.ndarray) -> np.ndarray:
    """(n,) cumulative -log carry from frame 0: confidence between frames i and j is exp(-|d[i] - d[j]|)."""
    return np.concatenate([[0.0], np.cumsum(-np.log(np.clip(steps, MIN_CARRY, 1.0)))])


def frame_confidence(steps: np.ndarray, keyframes: Sequence[int]) -> np.ndarray:
    """(n,) float32: each frame's expected confidence from the nearest keyframe (0 without any)."""
    distance = _distance(steps)
    if not len(keyframes):
        return np.zeros(len(distance), np.float32)
    keys = distance[np.asarray(sorted(keyframes))]
    nearest = np.abs(distance[:, None] - keys[None, :]).min(1)
    return np.exp(-nearest).astype(np.float32)


def plan_keyframes(steps: np.ndarray, level: float, keep: Sequence[int] = ()) -> list[int]:
    """The fewest new keyframes (sorted frame indices) that, with the keyframes `keep`, bring every
    frame's confidence to at least `level` (0 < level < 1; ValueError otherwise)."""
    if not 0 < level < 1:
        raise ValueError(f"the confidence level must be between 0 and 1, not {level}")
    distance = _distance(steps)
    reach = -np.log(level)
    covered = frame_confidence(steps, keep) >= level
    placed, frame, count = [], 0, len(distance)
    while frame < count:
        if covered[frame]:
            frame += 1
            continue
        # The farthest keyframe that still covers this frame, the last frame that one covers, and
        # the keyframe in the middle of those two (it covers both).
        far = int(np.searchsorted(distance, distance[frame] + reach, side="right")) - 1
        last = int(np.searchsorted(distance, distance[far] + reach, side="right")) - 1
        span = np.arange(frame, last + 1)
        key = int(span[np.argmin(np.maximum(distance[span] - distance[frame], distance[last] - distance[span]))])
        placed.append(key)
        covered |= np.abs(distance - distance[key]) <= reach
        frame = last + 1
    return placed


def benchmark_plan(width: int, height: int, count: int, log=print) -> dict:
    """Time `carry_steps` and `plan_keyframes` on a synthetic shot of `count` frames (uint8 luma,
    width x height: a blurred texture panning 2 px a frame, a bright disc crossing it); prints and
    returns {"carry_s", "plan_ms", "keyframes"}."""
    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur((rng.random((height + count, width + 2 * count)) * 255).astype(np.uint8), (0, 0), 3)
    yy, xx = np.mgrid[0:height, 0:width]

    def frame(t: int) -> np.ndarray:
        image = texture[count - t: count - t + height, 2 * t: 2 * t + width].copy()
        disc = (xx - width * t / count) ** 2 + (yy - height / 2) ** 2 < (height / 8) ** 2
        image[disc] = 235
        return image

    started = time.perf_counter()
    steps = carry_steps(frame(t) for t in range(count))
    carry_s = time.perf_counter() - started
    started = time.perf_counter()
    keys = plan_keyframes(steps, 0.5)
    plan_ms = (time.perf_counter() - started) * 1000
    log(f"{count} frames at {width}x{height}: carry {carry_s:.1f} s ({count / carry_s:.0f} frames/s, frames made "
        f"on the fly included), plan {plan_ms:.1f} ms, {len(keys)} keyframes at 50%: {keys}")
    return {"carry_s": carry_s, "plan_ms": plan_ms, "keyframes": keys}
