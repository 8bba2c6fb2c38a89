"""`colorproj evaluate effort`: the simulated annotator puts its points where the result is wrong."""
import cv2
import numpy as np

from inference.cli import main
from inference.keyframe.effort import points_to_reach, worst_points


def test_points_go_where_the_result_is_most_wrong_and_apart():
    truth = np.full((64, 64, 3), 120, np.uint8)
    out = truth.copy()
    out[40:50, 10:20] = 0  # the worst place
    out[5:15, 45:55] = 90  # a milder error
    taken = np.zeros((64, 64), bool)
    first = worst_points(out, truth, taken, 1)
    assert len(first) == 1 and 40 <= first[0][0] < 50 and 10 <= first[0][1] < 20
    more = worst_points(out, truth, taken, 2)
    assert any(5 <= y < 15 and 45 <= x < 55 for y, x in more)
    centres = first + more
    for i, a in enumerate(centres):  # patches never overlap
        for b in centres[i + 1:]:
            assert max(abs(a[0] - b[0]), abs(a[1] - b[1])) >= 5


def test_points_to_reach_is_the_first_round_at_target():
    assert points_to_reach([(0, 20.0), (5, 29.9), (10, 30.2), (15, 29.0)], 30) == 10
    assert points_to_reach([(0, 20.0), (5, 25.0)], 30) == float("inf")


def test_cli_prints_medians_and_plots(tmp_path, capsys):
    rng = np.random.default_rng(0)
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(2):
        rgb = cv2.resize(rng.integers(0, 255, (4, 4, 3)).astype(np.uint8), (64, 64), interpolation=cv2.INTER_CUBIC)
        cv2.imwrite(str(folder / f"p{i}.png"), rgb)
    plot = tmp_path / "effort.png"
    assert main(["evaluate", "effort", "--images", str(folder), "--split", "all", "--size", "64", "--target", "60",
                 "--cap", "10", "--methods", "cnn,levin", "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "keyframe engine" in out and "Levin" in out and ">10" in out and "0/2" in out
    assert cv2.imread(str(plot)) is not None
    assert main(["evaluate", "effort", "--images", str(folder), "--split", "all", "--size", "64", "--target", "0",
                 "--methods", "levin", "--plot", str(plot)]) == 0
    assert "2/2" in capsys.readouterr().out


def test_cli_refuses_bad_input(tmp_path, capsys):
    assert main(["evaluate", "effort", "--images", str(tmp_path / "missing")]) == 2
    assert main(["evaluate", "effort", "--images", str(tmp_path), "--step", "0"]) == 2
    assert main(["evaluate", "effort", "--images", str(tmp_path), "--methods", "magic"]) == 2
    assert "error" in capsys.readouterr().err
