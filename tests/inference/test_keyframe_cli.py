"""`colorproj colorize`: single files, folders, and bad input that must not stop a batch."""
import json

import cv2
import numpy as np
import pytest

from inference import color
from inference.cli import main


def write_gray(path, h=48, w=64, seed=0):
    rng = np.random.default_rng(seed)
    image = cv2.resize(rng.integers(30, 220, (6, 8)).astype(np.uint8), (w, h), interpolation=cv2.INTER_CUBIC)
    cv2.imwrite(str(path), image)
    return image


def test_single_file_with_hints(tmp_path, capsys):
    gray = write_gray(tmp_path / "frame.png")
    (tmp_path / "frame.json").write_text(json.dumps(
        {"points": [{"x": 10, "y": 12, "color": "#a03020", "radius": 2}],
         "strokes": [{"points": [[30, 0], [30, 47]], "width": 3}]}))
    out = tmp_path / "out" / "colored.png"
    assert main(["colorize", "--input", str(tmp_path / "frame.png"), "--output", str(out),
                 "--hints", str(tmp_path / "frame.json")]) == 0
    rgb = cv2.cvtColor(cv2.imread(str(out)), cv2.COLOR_BGR2RGB)
    assert rgb.shape == (48, 64, 3)
    assert np.abs(color.to_luma(rgb) * 255 - gray).max() <= 1.0
    r, g, b = rgb[12, 10].astype(int)
    assert r > g and r > b  # the red hint is followed


@pytest.mark.parametrize("method", ["cnn", "levin"])
def test_folder_batch_reports_bad_files_and_finishes_the_rest(tmp_path, capsys, method):
    images, hints, out = tmp_path / "in", tmp_path / "hints", tmp_path / "out"
    images.mkdir(), hints.mkdir()
    write_gray(images / "good.png")
    write_gray(images / "plain.jpg", seed=1)  # no hints file: automatic
    write_gray(images / "late.png", seed=2)
    (images / "broken.png").write_bytes(b"this is not a PNG")
    write_gray(images / "badjson.png", seed=3)
    write_gray(images / "outside.png", seed=4)
    write_gray(images / "badcolor.png", seed=5)
    (hints / "good.json").write_text(json.dumps({"points": [{"x": 5, "y": 5, "color": "#2050c0"}]}))
    (hints / "badjson.json").write_text('{"points": [')
    (hints / "outside.json").write_text(json.dumps({"points": [{"x": 500, "y": 5, "color": "#2050c0"}]}))
    (hints / "badcolor.json").write_text(json.dumps({"points": [{"x": 5, "y": 5, "color": "blue"}]}))
    code = main(["colorize", "--input", str(images), "--output", str(out), "--hints", str(hints),
                 "--method", method])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0
    assert sorted(p.name for p in out.iterdir()) == ["good.png", "late.png", "plain.png"]
    assert len(err) == 4
    by_file = {name: next(line for line in err if name in line)
               for name in ("broken.png", "badjson.json", "outside.json", "badcolor.json")}
    assert "not a readable image" in by_file["broken.png"]
    assert "malformed JSON" in by_file["badjson.json"]
    assert "outside the 64x48 image" in by_file["outside.json"]
    assert "bad color 'blue'" in by_file["badcolor.json"]


def test_missing_input_is_one_clear_error(tmp_path, capsys):
    assert main(["colorize", "--input", str(tmp_path / "nope.png"), "--output", str(tmp_path / "o.png")]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope.png" in err[0] and "no such file" in err[0]
