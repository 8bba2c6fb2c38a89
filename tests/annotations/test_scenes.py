"""Scene-cut detection (inference.scenes) on synthetic footage with known cuts."""
import numpy as np

from annotations.demo import synthetic_reel
from inference.scenes import SceneDetector, detect_cuts, scene_ranges


def test_finds_the_cuts_between_scenes():
    assert detect_cuts(synthetic_reel(96, 72, 36, scenes=3)) == [12, 24]


def test_motion_grain_and_flicker_are_not_cuts():
    rng = np.random.default_rng(1)
    frames = []
    for index in range(40):
        base = synthetic_reel(96, 72, 40, scenes=1)[index][..., 0].astype(np.float32)
        base *= 1.0 + 0.04 * np.sin(index)  # exposure flicker of an old print
        base += rng.normal(0, 6, base.shape)  # film grain
        frames.append(np.clip(base, 0, 255).astype(np.uint8))
    assert detect_cuts(frames) == []


def test_minimum_scene_length():
    flashes = [np.full((48, 64), 250 if i % 2 else 10, np.uint8) for i in range(12)]
    detector = SceneDetector(min_length=4)
    for frame in flashes:
        detector.push(frame)
    assert all(b - a >= 4 for a, b in zip([0] + detector.cuts, detector.cuts))


def test_scene_ranges_cover_every_frame():
    assert scene_ranges([5, 12, 12, 0, 40], 20) == [(0, 5), (5, 7), (12, 8)]
    assert scene_ranges([], 7) == [(0, 7)]
