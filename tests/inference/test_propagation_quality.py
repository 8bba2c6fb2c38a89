"""The render quality measures: a clean clip passes, shifted or faded chroma is flagged."""
import cv2
import numpy as np
import pytest

from inference.color import as_float, compose_lab, rgb_to_lab, to_luma, to_uint8
from inference.propagation.quality import assess, measure

COUNT = 8


def scene(t: int) -> np.ndarray:
    """Colored shapes, each with its own luma, moving over a textured gray-green ground (uint8 RGB)."""
    rng = np.random.default_rng(1)
    frame = np.full((180, 320, 3), (96, 112, 88), np.uint8)
    frame = np.clip(frame + rng.normal(0, 3, (180, 320, 1)), 0, 255).astype(np.uint8)
    cv2.rectangle(frame, (40 + 3 * t, 30), (120 + 3 * t, 110), (200, 60, 40), -1)
    cv2.ellipse(frame, (220 - 2 * t, 100), (50, 35), 0, 0, 360, (60, 90, 210), -1)
    cv2.rectangle(frame, (150, 130 - t), (300, 170 - t), (230, 210, 70), -1)
    return frame


def shifted(rgb: np.ndarray, pixels: int) -> np.ndarray:
    """The frame's own luma with its a/b planes moved `pixels` to the right and down."""
    ab = np.roll(rgb_to_lab(as_float(rgb))[..., 1:], (pixels, pixels), axis=(0, 1))
    return to_uint8(compose_lab(to_luma(as_float(rgb)), ab))


def faded(rgb: np.ndarray, factor: float) -> np.ndarray:
    return to_uint8(compose_lab(to_luma(as_float(rgb)), factor * rgb_to_lab(as_float(rgb))[..., 1:]))


@pytest.fixture(scope="module")
def clean():
    return [scene(t) for t in range(COUNT)]


def test_a_clean_clip_passes(clean):
    report = assess(enumerate(clean), [0, COUNT - 1])
    assert report.verdict == "passed", [f.as_dict() for f in report.frames]
    assert all(abs(f.strength - 1) < 0.1 for f in report.frames)


def test_shifted_chroma_is_flagged_with_its_frame_numbers(clean):
    bad = {3, 4}
    frames = [(i, shifted(rgb, 4) if i in bad else rgb) for i, rgb in enumerate(clean)]
    report = assess(frames, [0, COUNT - 1])
    assert report.verdict == "attention" and report.flagged == [3, 4]
    for index in bad:
        frame = report.frames[index]
        assert {"crossing", "blocks"} <= set(frame.reasons), frame
        assert frame.crossing > 10 * report.frames[2].crossing


def test_chroma_fading_between_keyframes_is_flagged(clean):
    frames = [(i, faded(rgb, 0.5) if i == 4 else rgb) for i, rgb in enumerate(clean)]
    report = assess(frames, [0, COUNT - 1])
    assert report.flagged == [4] and report.frames[4].reasons == ("strength",)
    assert report.frames[4].strength == pytest.approx(0.5, abs=0.08)


def test_keyframes_are_measured_but_never_flagged(clean):
    frames = [(i, shifted(rgb, 4)) for i, rgb in enumerate(clean)]
    report = assess(frames, [0, COUNT - 1])
    assert report.flagged == list(range(1, COUNT - 1))
    assert report.frames[0].crossing > 0.006 and not report.frames[0].reasons


def test_no_keyframe_among_the_frames_is_refused(clean):
    with pytest.raises(ValueError, match="none of the keyframes"):
        assess(enumerate(clean[:3]), [7])
    assert measure(clean[0])[0] < 0.006
