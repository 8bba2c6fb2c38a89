"""What a person sees wrong in a propagated shot, measured per frame (no ground truth needed).

    from inference.propagation.quality import assess

    report = assess(((index, rgb) for index, rgb in frames), keyframe_indices)
    report.verdict            # "passed" or "attention"
    report.flagged            # frame numbers over a threshold, in order
    report.frames[i].as_dict()  # {"index", "crossing", "blocks", "strength", "reasons"}

Three measures, on the frame brought to ANALYSIS_LONG_SIDE (CIE Lab a/b, luma as the frame's own):

- crossing: the share of pixels where the chroma changes sharply and the luma does not -- color
  sitting across an edge the frame does not have (bleeding, ghosts, a shifted chroma plane).
- blocks: the share of pixels on straight horizontal or vertical chroma steps at least BLOCK_RUN
  pixels long with no luma step under them -- the rectangles a block-shaped flow field leaves.
- strength: the frame's mean chroma (a/b magnitude) over the mean chroma of its keyframes,
  interpolated in time between the nearest one before and after; below 1 the shot goes gray
  away from its keyframes.

A frame is flagged when crossing > MAX_CROSSING, blocks > MAX_BLOCKS or strength < MIN_STRENGTH;
the thresholds were set so that clean propagations of the validation clips pass and a chroma plane
shifted by a few pixels does not (see tests/inference/test_propagation_quality.py).
Keyframes are measured too but never flagged: they are the annotator's approved colors.
"""
from __future__ import annotations

import dataclasses
from typing import Iterable

import cv2
import numpy as np

from inference.color import as_float, rgb_to_lab, to_luma

ANALYSIS_LONG_SIDE = 320
CHROMA_STEP = 6.0  # a/b units between neighbouring analysis pixels: a sharp chroma change
LUMA_STEP = 0.03  # luma units (0..1): below this the frame has no edge there
BLOCK_RUN = 8  # analysis pixels: the shortest straight chroma step counted as a block edge
MAX_CROSSING = 0.006
MAX_BLOCKS = 0.0005
MIN_STRENGTH = 0.7


@dataclasses.dataclass(frozen=True)
class FrameQuality:
    index: int
    crossing: float  # share of pixels, 0..1
    blocks: float  # share of pixels, 0..1
    strength: float  # chroma against the nearest keyframes' (1 = as strong)
    reasons: tuple[str, ...]  # which thresholds it is over: "crossing", "blocks", "strength"

    def as_dict(self) -> dict:
        return dataclasses.asdict(self) | {"reasons": list(self.reasons)}


@dataclasses.dataclass(frozen=True)
class QualityReport:
    frames: tuple[FrameQuality, ...]

    @property
    def flagged(self) -> list[int]:
        return [f.index for f in self.frames if f.reasons]

    @property
    def verdict(self) -> str:
        return "attention" if self.flagged else "passed"


def measure(rgb: np.ndarray) -> tuple[float, float, float]:
    """(crossing, blocks, mean chroma) of one uint8 or float RGB frame H x W x 3."""
    image = as_float(rgb)
    height, width = image.shape[:2]
    scale = min(1.0, ANALYSIS_LONG_SIDE / max(height, width))
    if scale < 1.0:
        image = cv2.resize(image, (max(1, round(width * scale)), max(1, round(height * scale))),
                           interpolation=cv2.INTER_AREA)
    ab = rgb_to_lab(image)[..., 1:]
    luma = to_luma(image)
    crossing, blocks = 0, 0
    for axis in (0, 1):  # steps between vertical, then horizontal neighbours
        chroma_step = np.linalg.norm(np.diff(ab, axis=axis), axis=2) > CHROMA_STEP
        flat = np.abs(np.diff(luma, axis=axis)) < LUMA_STEP
        # the luma is flat around the step too, not only across it (a soft luma edge is still an edge)
        flat &= cv2.erode(flat.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        unexplained = (chroma_step & flat).astype(np.float32)
        crossing += unexplained.sum()
        # a block edge runs along the other axis: straight for BLOCK_RUN pixels
        kernel = (BLOCK_RUN, 1) if axis == 1 else (1, BLOCK_RUN)
        run = cv2.blur(unexplained, (kernel[1], kernel[0]), borderType=cv2.BORDER_CONSTANT)
        blocks += (run > 0.99).sum()
    pixels = ab.shape[0] * ab.shape[1]
    return float(crossing / pixels), float(blocks / pixels), float(np.linalg.norm(ab, axis=2).mean())


def assess(frames: Iterable[tuple[int, np.ndarray]], keyframe_indices: Iterable[int]) -> QualityReport:
    """Measure every (index, RGB frame) of a propagated shot; frames may be streamed (one is held at a time).

    keyframe_indices: the shot's keyframes (at least one must be among the frames). Raises
    ValueError when no keyframe is among them: strength then has nothing to compare with.
    """
    return judge({int(index): measure(rgb) for index, rgb in frames}, keyframe_indices)


def judge(measured: dict[int, tuple[float, float, float]], keyframe_indices: Iterable[int]) -> QualityReport:
    """The report from frames already measured: {frame index: measure(frame)}, for callers that
    stream frames past several checks at once. Raises ValueError as `assess` does."""
    keys = set(int(k) for k in keyframe_indices)
    present = sorted(keys & set(measured))
    if not present:
        raise ValueError("none of the keyframes is among the frames; chroma strength needs one")
    key_index = np.array(present, float)
    key_chroma = np.array([measured[k][2] for k in present])
    report = []
    for index in sorted(measured):
        crossing, blocks, chroma = measured[index]
        reference = float(np.interp(index, key_index, key_chroma))
        strength = chroma / reference if reference > 1e-6 else 1.0
        reasons = () if index in keys else tuple(
            name for name, over in (("crossing", crossing > MAX_CROSSING), ("blocks", blocks > MAX_BLOCKS),
                                    ("strength", strength < MIN_STRENGTH)) if over)
        report.append(FrameQuality(index, crossing, blocks, strength, reasons))
    return QualityReport(tuple(report))
