"""Warped color candidates and the network's input planes.

One code path for rendering and training: the engine feeds these functions flows it
computes, the trainer feeds them flows packed ahead of time, and both get the same
candidates.

A stretch is processed in "processing order": it starts at the origin keyframe and walks
away from it (forward in time, or backward before the first keyframe); the target
keyframe, if any, lies at the far end. For a frame j of the walk, `to_prev` is the flow
j -> j-1 (toward the origin) and `to_next` the flow j -> j+1, with their confidences.
"""
from __future__ import annotations

import dataclasses
from typing import Iterable, Iterator

import numpy as np

from .flow import compose, warp
from .network import AB_SCALE

DISTANCE_SCALE = 64.0  # frames; distance planes saturate there


@dataclasses.dataclass
class Candidate:
    ab: np.ndarray  # H x W x 2, Lab a/b
    confidence: np.ndarray  # H x W in [0, 1]
    mismatch: np.ndarray  # H x W, frame luma minus warped candidate luma
    flow: np.ndarray | None = None  # H x W x 2, back to the keyframe (keyframe candidates only)

    def trust(self) -> np.ndarray:
        """H x W: the flow's confidence times how well the warped luma matches the frame."""
        return self.confidence * np.exp(-np.square(self.mismatch / MISMATCH_SCALE))


def absent(height: int, width: int) -> Candidate:
    zeros = np.zeros((height, width), np.float32)
    return Candidate(np.zeros((height, width, 2), np.float32), zeros, zeros)


def keyframe_chain(
    key_ab: np.ndarray, key_luma: np.ndarray, steps: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]]
) -> Iterator[Candidate]:
    """Carry a keyframe's a/b along a walk away from it.

    `steps` gives, for each next frame of the walk, (luma, flow to the frame before it,
    confidence of that flow). Flows are composed into one flow back to the keyframe, so its
    colors are resampled once (sharp) instead of once per frame (blurring); confidence is
    the product of the confidences along the way.
    """
    height, width = key_luma.shape
    accumulated = np.zeros((height, width, 2), np.float32)
    confidence = np.ones((height, width), np.float32)
    for luma, flow, flow_confidence in steps:
        accumulated = compose(flow, accumulated)
        confidence = flow_confidence * warp(confidence, flow)
        yield Candidate(warp(key_ab, accumulated), confidence, luma - warp(key_luma, accumulated), accumulated)


def previous_candidate(
    prev_ab: np.ndarray, prev_luma: np.ndarray, luma: np.ndarray, flow: np.ndarray, confidence: np.ndarray
) -> Candidate:
    """The previous output (in processing order) warped onto this frame."""
    return Candidate(warp(prev_ab, flow), confidence, luma - warp(prev_luma, flow))


def network_input(luma: np.ndarray, origin: Candidate, target: Candidate, previous: Candidate, matched: Candidate,
                  to_origin: int, to_target: int | None) -> np.ndarray:
    """IN_CHANNELS x H x W float32 planes for FusionNet (candidates in its order)."""
    height, width = luma.shape
    planes = [luma - 0.5]
    for cand in (origin, target, previous, matched):
        planes += [cand.ab[..., 0] / AB_SCALE, cand.ab[..., 1] / AB_SCALE, cand.confidence, cand.mismatch]
    far = 1.0 if to_target is None else min(to_target, DISTANCE_SCALE) / DISTANCE_SCALE
    planes += [
        np.full((height, width), min(to_origin, DISTANCE_SCALE) / DISTANCE_SCALE, np.float32),
        np.full((height, width), far, np.float32),
    ]
    return np.stack(planes).astype(np.float32, copy=False)


def keyframe_weights(origin: Candidate, target: Candidate, to_origin: int, to_target: int | None):
    """The classical blend's per-pixel shares of the two keyframe candidates (summing to 1):
    confidence times nearness in time. Without a target keyframe the origin takes all."""
    if to_target is None:
        return np.ones_like(origin.confidence), np.zeros_like(origin.confidence)
    w_origin = (origin.confidence + 1e-3) / to_origin
    w_target = (target.confidence + 1e-3) / to_target
    total = w_origin + w_target
    return w_origin / total, w_target / total


def flow_blend(origin: Candidate, target: Candidate, to_origin: int, to_target: int | None) -> np.ndarray:
    """The classical method: keyframe candidates weighted by confidence and nearness in time."""
    if to_target is None:
        return origin.ab
    w_origin, w_target = keyframe_weights(origin, target, to_origin, to_target)
    return origin.ab * w_origin[..., None] + target.ab * w_target[..., None]


def detail_sources(origin: Candidate, target: Candidate, to_origin: int, to_target: int | None):
    """[(candidate, weight)] of the keyframes whose full-resolution chroma detail this frame borrows:
    the classical shares, scaled by each warp's confidence (no detail where no warp is trusted)."""
    shares = keyframe_weights(origin, target, to_origin, to_target)
    keyframes = (origin, target) if to_target is not None else (origin,)
    return [(cand, share * cand.confidence) for cand, share in zip(keyframes, shares)]


MISMATCH_SCALE = 0.06  # luma units: a warped keyframe whose luma is off by this much is trusted e^-1 as much


def fused_confidence(origin: Candidate, target: Candidate, to_origin: int, to_target: int | None) -> np.ndarray:
    """H x W in [0, 1]: how far the fused chroma can be trusted -- the keyframe candidates' flow
    confidences, each times how well its warped luma matches the frame, by their classical shares."""
    shares = keyframe_weights(origin, target, to_origin, to_target)
    keyframes = (origin, target) if to_target is not None else (origin,)
    return sum(share * cand.trust() for cand, share in zip(keyframes, shares)).astype(np.float32)


AGREEMENT_SCALE = 8.0  # a/b units: a color this far from the matched one is vouched for e^-1 as much


def joint_confidence(fused: np.ndarray, matched: Candidate, ab: np.ndarray) -> np.ndarray:
    """H x W in [0, 1]: how far the frame's fused a/b (H x W x 2) can be trusted -- the carried
    chroma's confidence (`fused_confidence`), and where that is low, the match's, as far as the
    fused color agrees with the matched one: a good match vouches for its own color, not for a
    color the recurrence carried into a region no keyframe sees (a trail, uncovered background)."""
    agreement = np.exp(-np.square(np.linalg.norm(ab - matched.ab, axis=-1) / AGREEMENT_SCALE))
    return (fused + (1.0 - fused) * matched.confidence * agreement).astype(np.float32)
