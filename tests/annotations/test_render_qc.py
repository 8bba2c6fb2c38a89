"""The quality checks catch what they are meant to catch (no database needed)."""
from fractions import Fraction

import av
import cv2
import numpy as np
from django.template.loader import render_to_string

from annotations.demo import synthetic_reel
from annotations.render import qc
from annotations.render.deliverables import ycbcr, yuv_frame
from annotations.render.pictures import sheet_indices
from inference.color import REC709, as_float, compose_lab, rgb_to_lab, to_luma, to_uint8, with_luma


def colored(frames, tint=(0.55, 0.45, 0.35)):
    return [(with_luma(to_luma(f), np.broadcast_to(np.float32(tint), f.shape)) * 255 + 0.5).astype(np.uint8)
            for f in frames]


def test_flicker_figure_separates_steady_from_flickering_color():
    frames = synthetic_reel(64, 48, 8, scenes=1)
    steady, flickering = qc.FrameChecks(), qc.FrameChecks()
    for index, (a, b) in enumerate(zip(colored(frames), colored(frames, (0.35, 0.45, 0.6)))):
        luma = to_luma(frames[index])
        steady.add(a, luma)
        flickering.add(a if index % 2 else b, luma)  # the tint jumps every frame
    calm, jumpy = steady.summary(), flickering.summary()
    assert calm["flicker"]["max"] < 1.0 and calm["flicker"]["pass"]
    assert jumpy["flicker"]["mean"] > 8 and not jumpy["flicker"]["pass"]
    assert calm["luma"]["max_diff"] < 0.6  # 8-bit output of the exact luma: rounding only


def test_luma_check_fails_when_the_picture_changes():
    frames = synthetic_reel(64, 48, 3, scenes=1)
    checks = qc.FrameChecks()
    for frame in colored(frames):
        checks.add(np.clip(frame.astype(int) + 6, 0, 255).astype(np.uint8), to_luma(frame))
    assert checks.summary()["luma"]["max_diff"] > 4 and not checks.summary()["luma"]["pass"]


def test_ycbcr_is_rec709_limited_range():
    rgb = np.array([[[0, 0, 0], [65535, 65535, 65535], [65535, 0, 0], [0, 0, 65535]]], np.uint16)
    y, cb, cr = ycbcr(rgb, 10, "444")
    assert y.tolist() == [[64, 940, round(64 + 876 * REC709[0]), round(64 + 876 * REC709[2])]]
    assert cb[0, 0] == cr[0, 0] == 512 and cb[0, 3] == 960 and cr[0, 2] == 960
    y8, _, _ = ycbcr(rgb, 8, "444")
    assert y8.tolist()[0][:2] == [16, 235]


def test_legal_range_check_reads_the_encoded_file(tmp_path):
    def encode(path, level):
        with av.open(str(path), "w") as container:
            stream = container.add_stream("ffv1", rate=Fraction(25))
            stream.width, stream.height, stream.pix_fmt = 16, 16, "yuv444p"
            for _ in range(2):
                planes = [np.full((16, 16), level, np.uint8), np.full((16, 16), 128, np.uint8),
                          np.full((16, 16), 128, np.uint8)]
                container.mux(stream.encode(yuv_frame(planes, "yuv444p")))
            container.mux(stream.encode(None))
        return path

    legal = qc.legal_range(encode(tmp_path / "legal.mkv", 235))
    assert legal["pass"] and legal["strict_pass"] and legal["y"] == [235, 235]
    illegal = qc.legal_range(encode(tmp_path / "superwhite.mkv", 254))
    assert not illegal["pass"] and illegal["samples_outside"] == 2 * 16 * 16 and illegal["y"] == [254, 254]


def test_contact_sheet_shows_the_keyframes():
    assert sheet_indices(10, [2, 7]) == [0, 2, 4, 5, 7, 9]
    assert sheet_indices(3, []) == [0, 1, 2]
    assert {5, 50, 90} <= set(sheet_indices(100, [5, 50, 90]))


def moving_shapes(count: int) -> list[np.ndarray]:
    """Colored shapes, each with a luma of its own, moving over a gray ground (uint8 RGB, 120x160)."""
    shots = []
    for t in range(count):
        frame = np.full((120, 160, 3), (100, 110, 95), np.uint8)
        cv2.rectangle(frame, (20 + 3 * t, 20), (70 + 3 * t, 70), (200, 60, 40), -1)
        cv2.circle(frame, (120 - 2 * t, 80), 25, (60, 90, 210), -1)
        shots.append(frame)
    return shots


def shifted_chroma(rgb: np.ndarray, pixels: int = 6) -> np.ndarray:
    """The frame's own luma under its a/b planes moved `pixels` right and down: color off its edges."""
    ab = np.roll(rgb_to_lab(as_float(rgb))[..., 1:], (pixels, pixels), axis=(0, 1))
    return to_uint8(compose_lab(to_luma(as_float(rgb)), ab))


def test_appearance_flags_frames_whose_color_sits_off_the_edges():
    frames = moving_shapes(8)
    clean, bad = qc.FrameChecks([0, 7]), qc.FrameChecks([0, 7])
    for index, frame in enumerate(frames):
        luma = to_luma(frame)
        clean.add(frame, luma)
        bad.add(shifted_chroma(frame) if index in (3, 4) else frame, luma)
    calm, shifted = clean.summary(), bad.summary()
    assert calm["appearance"]["flagged"] == [] and calm["appearance"]["pass"]
    assert shifted["appearance"]["flagged"] == [3, 4] and not shifted["appearance"]["pass"]
    assert qc.verdict({**calm, "passed": True}) == "passed"
    assert qc.verdict({**shifted, "passed": True}) == "attention"
    assert qc.verdict({**shifted, "passed": False}) == "failed"


def test_render_page_says_attention_with_the_flagged_frames():
    report = {"passed": True, "verdict": "attention", "luma": {"max_diff": 0.4, "limit": 0.5, "pass": True},
              "flicker": {"mean": 1.0, "max": 2.0, "limit": 8.0, "pass": True}, "legal_range": {},
              "appearance": {"flagged": [3, 4], "pass": False,
                             "limits": {"crossing_max": 0.006, "blocks_max": 0.0005, "strength_min": 0.7}}}
    html = render_to_string("review/_qc.html", {"r": {"qc": report}})
    assert "attention" in html and "frames 3, 4" in html and ">passed<" not in html
    assert "Propagation confidence" not in html  # a render from before confidence was kept
    report["confidence"] = {"mean": 0.62, "least_sure": [5, 6, 4]}
    html = render_to_string("review/_qc.html", {"r": {"qc": report}})
    assert "mean 0.62; least sure: frames 5, 6, 4" in html
