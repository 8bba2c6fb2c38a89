"""`colorproj propagate`: folder and video forms, and the errors a user can run into."""
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from inference.cli import main
from inference.color import to_luma, to_uint8
from inference.media import probe, read_frames, write_video
from inference.metrics import psnr
from inference.propagation.evaluate import synthetic_shot

COUNT = 10


@pytest.fixture(scope="module")
def color():
    return synthetic_shot(96, 64, COUNT, seed=7)


def save(path, rgb):
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR) if rgb.ndim == 3 else rgb)


@pytest.fixture
def folders(tmp_path, color):
    frames, keys = tmp_path / "frames", tmp_path / "keys"
    frames.mkdir()
    keys.mkdir()
    for i, rgb in enumerate(color):
        save(frames / f"{i:05d}.png", to_uint8(to_luma(rgb)))
    save(keys / "00000.png", color[0])
    save(keys / "00009.png", color[9])
    return frames, keys, tmp_path / "out"


def propagate(*args):
    return main(["propagate", *map(str, args)])


@pytest.mark.parametrize("method", ["cnn", "flow"])
def test_directory_form(folders, color, method, capsys):
    frames, keys, out = folders
    assert propagate("--frames", frames, "--keyframes", keys, "--output", out, "--method", method) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"{i:05d}.png" for i in range(COUNT)]
    for i in range(COUNT):
        rgb = cv2.cvtColor(cv2.imread(str(out / names[i])), cv2.COLOR_BGR2RGB)
        gray = cv2.imread(str(frames / names[i]), cv2.IMREAD_UNCHANGED)
        assert rgb.shape == color[i].shape
        assert np.abs(to_luma(rgb) * 255 - gray).max() <= 1.0
    assert psnr(rgb, color[COUNT - 1]) > 40  # the last frame is a keyframe
    assert "propagating 10/10" in capsys.readouterr().err


def test_video_form_keeps_frame_count_rate_and_colors(tmp_path, color):
    source = tmp_path / "shot.mp4"
    rate = Fraction(24000, 1001)
    write_video(source, color, rate, codec="libx264", pix_fmt="yuv444p", options={"crf": "10"})
    save(tmp_path / "k0.png", color[0])
    save(tmp_path / "k6.png", color[6])
    out = tmp_path / "colored.mp4"
    code = propagate("--input", source, "--keyframe", f"0={tmp_path / 'k0.png'}",
                     "--keyframe", f"6={tmp_path / 'k6.png'}", "--output", out)
    assert code == 0
    info = probe(out)
    assert (info.frame_count, info.frame_rate, info.width, info.height) == (COUNT, rate, 96, 64)
    result = list(read_frames(out))
    assert len(result) == COUNT
    assert np.mean([psnr(r, c) for r, c in zip(result, color)]) > 25
    # colored, not gray
    assert np.abs(result[3].astype(int) - result[3].mean(axis=2, keepdims=True)).mean() > 5


def test_missing_frame_is_refused(folders, capsys):
    frames, keys, out = folders
    (frames / "00004.png").unlink()
    assert propagate("--frames", frames, "--keyframes", keys, "--output", out) != 0
    err = capsys.readouterr().err
    assert "1 frame(s) missing" in err and "number(s) 4" in err
    assert not out.exists()


def test_keyframe_of_another_size_is_refused(folders, color, capsys):
    frames, keys, out = folders
    save(keys / "00005.png", cv2.resize(color[5], (48, 32)))
    assert propagate("--frames", frames, "--keyframes", keys, "--output", out) != 0
    assert "00005.png is 48x32, the frames are 96x64" in capsys.readouterr().err


def test_keyframe_matching_no_frame_is_refused(folders, color, capsys):
    frames, keys, out = folders
    save(keys / "00042.png", color[0])
    assert propagate("--frames", frames, "--keyframes", keys, "--output", out) != 0
    assert "00042.png matches no frame" in capsys.readouterr().err


def test_frames_of_differing_sizes_are_refused(folders, color, capsys):
    frames, keys, out = folders
    save(frames / "00003.png", np.zeros((32, 48), np.uint8))
    assert propagate("--frames", frames, "--keyframes", keys, "--output", out) != 0
    assert "00003.png is 48x32" in capsys.readouterr().err


@pytest.mark.parametrize("keyframe, message", [
    ("12=KEY", "has frames 0..9"),
    ("three=KEY", "is not INDEX=IMAGE"),
    ("2=/nonexistent.png", "does not exist"),
])
def test_bad_video_keyframes_are_refused(tmp_path, color, keyframe, message, capsys):
    source = tmp_path / "shot.mp4"
    write_video(source, color, 25)
    save(tmp_path / "key.png", color[0])
    keyframe = keyframe.replace("KEY", str(tmp_path / "key.png"))
    assert propagate("--input", source, "--keyframe", keyframe, "--output", tmp_path / "o.mp4") != 0
    assert message in capsys.readouterr().err


def test_not_a_video_is_refused(tmp_path, color, capsys):
    bogus = tmp_path / "shot.mp4"
    bogus.write_bytes(b"not a video at all")
    save(tmp_path / "key.png", color[0])
    assert propagate("--input", bogus, "--keyframe", f"0={tmp_path / 'key.png'}", "--output", tmp_path / "o.mp4") != 0
    assert "not a readable video" in capsys.readouterr().err


def test_evaluation_does_not_import_the_command_line_module():
    """The evaluation reads clips through files.py; it once imported cli.py, which imports it back."""
    code = "import sys, inference.propagation.evaluate; assert 'inference.propagation.cli' not in sys.modules"
    root = Path(__file__).resolve().parents[2]
    assert subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True).returncode == 0


def test_contact_sheet_shows_the_shipped_and_new_engines(tmp_path, color, capsys):
    source = tmp_path / "shot.mp4"
    write_video(source, color, 25, codec="libx264", pix_fmt="yuv444p", options={"crf": "10"})
    save(tmp_path / "k0.png", color[0])
    save(tmp_path / "k8.png", color[8])
    out = tmp_path / "sheet.png"
    code = main(["evaluate", "propagate-sheet", "--input", str(source), "--keyframe", f"0={tmp_path / 'k0.png'}",
                 "--keyframe", f"8={tmp_path / 'k8.png'}", "--frames", "0,4,9", "--output", str(out)])
    assert code == 0
    sheet = cv2.imread(str(out))
    assert sheet.shape[1] == 3 * 96 and sheet.shape[0] == 3 * (64 + 22)  # 3 frames; shipped, new, unrefined; labels
    err = capsys.readouterr()
    assert all(f"{name}: quality check" in err.out for name in ("shipped", "new", "unrefined"))
    assert main(["evaluate", "propagate-sheet", "--input", str(source), "--keyframe", f"0={tmp_path / 'k0.png'}",
                 "--frames", "0,99", "--output", str(out)]) == 2
    assert "must lie in 0..9" in capsys.readouterr().err
