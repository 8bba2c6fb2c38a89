"""Scene-cut detection on a stream of frames (luma), in one pass during ingest.

A cut is a frame whose small-scale picture differs from the previous frame far more than
the recent frame-to-frame differences do (so camera motion or film grain that is always
there does not count), and by more than an absolute floor (so a static shot does not turn
every small change into a cut). Differences combine a luma-histogram distance, which is
robust to motion, with a mean absolute difference of a tiny thumbnail, which catches cuts
between shots of similar overall brightness.
"""
from __future__ import annotations

from collections import deque

import cv2
import numpy as np

from inference.color import as_float, to_luma

THUMB = (32, 24)
BINS = 32


class SceneDetector:
    """Feed frames in order with `push`; `cuts` lists the indices where a new scene starts."""

    def __init__(self, *, threshold: float = 0.30, ratio: float = 3.0, window: int = 12, min_length: int = 4):
        self.threshold, self.ratio, self.min_length = threshold, ratio, min_length
        self.recent: deque[float] = deque(maxlen=window)
        self.cuts: list[int] = []
        self.scores: list[float] = []
        self._previous: tuple[np.ndarray, np.ndarray] | None = None
        self._index = 0
        self._last_cut = 0

    def push(self, frame: np.ndarray) -> bool:
        """Add the next frame (gray or RGB, any size); True if it starts a new scene."""
        luma = to_luma(frame) if frame.ndim == 3 else as_float(frame)
        thumb = cv2.resize(luma, THUMB, interpolation=cv2.INTER_AREA)
        hist = np.histogram(thumb, bins=BINS, range=(0.0, 1.0))[0].astype(np.float32) / thumb.size
        index, self._index = self._index, self._index + 1
        previous, self._previous = self._previous, (thumb, hist)
        if previous is None:
            self.scores.append(0.0)
            return False
        score = 0.5 * float(np.abs(hist - previous[1]).sum()) / 2 + 0.5 * min(1.0, 4 * float(np.abs(thumb - previous[0]).mean()))
        self.scores.append(score)
        typical = float(np.median(self.recent)) if self.recent else 0.0
        self.recent.append(score)
        is_cut = score >= self.threshold and score >= self.ratio * typical and index - self._last_cut >= self.min_length
        if is_cut:
            self.cuts.append(index)
            self._last_cut = index
            self.recent.clear()
        return is_cut


def detect_cuts(frames, **options) -> list[int]:
    detector = SceneDetector(**options)
    for frame in frames:
        detector.push(frame)
    return detector.cuts


def scene_ranges(cuts: list[int], frame_count: int) -> list[tuple[int, int]]:
    """[(first_frame, frame_count), ...] covering 0..frame_count-1, split at `cuts`."""
    bounds = [0] + sorted({c for c in cuts if 0 < c < frame_count}) + [frame_count]
    return [(start, stop - start) for start, stop in zip(bounds, bounds[1:])]
