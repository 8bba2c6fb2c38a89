"""`colorproj evaluate effort --clips`: the simulated annotator on whole shots, both keying strategies."""
import cv2
import numpy as np
import pytest

from inference import color
from inference.cli import main
from inference.keyframe.engine import KeyframeColorizer
from inference.keyframe.shots import ShotAnnotation, annotate_shot
from inference.propagation import ShotPropagator


def _textured_luma(height, width, seed=0):
    rng = np.random.default_rng(seed)
    noise = cv2.resize(rng.random((height // 4, width // 4)).astype(np.float32), (width, height),
                       interpolation=cv2.INTER_CUBIC)
    return np.clip(0.3 + 0.4 * noise, 0, 1).astype(np.float32)


def _frame(luma, a, b):
    ab = np.stack([np.full(luma.shape, a, np.float32), np.full(luma.shape, b, np.float32)], -1)
    return color.to_uint8(color.compose_lab(luma, ab))


def _hue_change_shot():
    """A still shot whose right half changes hue (not luma) after frame 3: uint8 RGB frames, their luma."""
    luma = _textured_luma(64, 64)
    truth = []
    for t in range(8):
        rgb = _frame(luma, 40, 0)
        if t > 3:
            rgb[:, 32:] = _frame(luma, -20, 40)[:, 32:]
        truth.append(rgb)
    return truth, [color.to_uint8(color.to_luma(f)) for f in truth]


def _moving_square_clip(folder, count=8, height=48, width=64):
    folder.mkdir(parents=True)
    background = _textured_luma(height, width)
    for t in range(count):
        rgb = _frame(background, 10, 30)
        rgb[12:28, 4 + 3 * t: 20 + 3 * t] = (200, 40, 40)
        cv2.imwrite(str(folder / f"{t:05d}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def test_carried_points_are_accepted_only_where_their_color_is_right():
    # A point carried from frame 0 to the changed half lands in the right place but with a wrong color.
    truth, grays = _hue_change_shot()
    shot = ShotAnnotation(truth, grays, [0, 7], KeyframeColorizer.load(), ShotPropagator.load(), 64)
    shot.add(0, [shot.point(0, 16, 20), shot.point(0, 48, 40)])
    accepted, dropped = shot.carry(7, tolerance=8.0)
    assert dropped == 1 and len(accepted) == 1
    assert abs(accepted[0].x - 16) < 1 and abs(accepted[0].y - 20) < 1
    assert shot.carry(0, tolerance=8.0) == ([], 0)  # nothing to carry to the only keyframe with points
    # Reopened after its neighbour got another point: only that one is proposed, then nothing.
    shot.add(0, [shot.point(0, 16, 44)])
    accepted, dropped = shot.carry(7, tolerance=8.0)
    assert dropped == 0 and len(accepted) == 1 and abs(accepted[0].y - 44) < 1
    assert shot.carry(7, tolerance=8.0) == ([], 0)


def test_the_guided_annotator_keys_the_worst_frame_when_points_stop_helping():
    # A red card appears at frame 4: keyed at frame 0 only, no point there can color it.
    luma = _textured_luma(64, 64)
    truth = [_frame(luma, 10, 30) for _ in range(8)]
    for rgb in truth[4:]:
        rgb[20:44, 36:60] = (200, 40, 40)
    grays = [color.to_uint8(color.to_luma(f)) for f in truth]
    engine, propagator = KeyframeColorizer.load(), ShotPropagator.load()
    run = lambda most_keys: annotate_shot(truth, grays, [0], engine, propagator, target=25, step=5, cap=30,  # noqa: E731
                                          size=64, carry=True, most_keys=most_keys)
    fixed = run(None)
    assert fixed.keyframes == [0] and not fixed.reached
    keyed = run(2)
    assert len(keyed.keyframes) == 2 and keyed.keyframes[1] > 3, keyed.keyframes
    assert keyed.reached and keyed.points < fixed.points
    assert keyed.ceiling > fixed.ceiling + 10  # measured with the keyframes it ended with


def test_cli_prints_both_strategies_and_plots(tmp_path, capsys):
    _moving_square_clip(tmp_path / "clips" / "square")
    plot = tmp_path / "shots.png"
    base = ["evaluate", "effort", "--clips", str(tmp_path / "clips"), "--size", "64", "--interval", "4",
            "--plot", str(plot)]
    # A target every keyframe's propagation already meets: no point is needed.
    assert main(base + ["--target", "0"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.startswith("square")]
    assert [row[2] for row in rows] == ["baseline", "guided"]
    assert rows[0][3] == "0,4" and all(row[4] == "0" and row[-1] == "yes" for row in rows)
    assert "guided/baseline points" in out and cv2.imread(str(plot)) is not None
    # An unreachable target: the annotator stops at the cap, in rounds of --step points.
    assert main(base + ["--target", "80", "--step", "3", "--cap", "6"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines() if line.startswith("square")]
    assert all(row[4] == "6" and row[-1] == "no" for row in rows)


def test_cli_refuses_bad_clips(tmp_path, capsys):
    assert main(["evaluate", "effort", "--clips", str(tmp_path / "missing")]) == 2
    assert main(["evaluate", "effort", "--clips", str(tmp_path)]) == 2  # no clip folders
    (tmp_path / "one").mkdir()
    cv2.imwrite(str(tmp_path / "one" / "00000.png"), np.zeros((32, 32, 3), np.uint8))
    assert main(["evaluate", "effort", "--clips", str(tmp_path)]) == 2  # a single frame is no shot
    assert main(["evaluate", "effort", "--clips", str(tmp_path), "--names", "other"]) == 2
    assert main(["evaluate", "effort", "--clips", str(tmp_path), "--step", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("error") == 5 and "no clip named other" in err and "at least 2 frames" in err
    with pytest.raises(SystemExit) as exit_:
        main(["evaluate", "effort", "--clips", str(tmp_path), "--images", str(tmp_path)])
    assert exit_.value.code == 2
