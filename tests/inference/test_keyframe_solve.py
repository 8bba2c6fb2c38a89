"""The engine's starting answer: the edge-aware solve (inference.solve) and the feature-space
regression of the points (inference.keyframe.regress)."""
import numpy as np
import torch

from inference.keyframe.regress import Points, regress
from inference.solve import Affinity


def two_halves(h=32, w=48):
    luma = np.full((h, w), 0.3, np.float32)
    luma[:, w // 2:] = 0.7
    return luma


def test_fixed_pixels_are_kept_and_color_stays_on_its_side_of_a_luma_edge():
    luma = two_halves()
    fixed_ab, mask = np.zeros((32, 48, 2), np.float32), np.zeros((32, 48), np.float32)
    fixed_ab[14:17, 4:7], mask[14:17, 4:7] = (40.0, 20.0), 1
    fixed_ab[14:17, 40:43], mask[14:17, 40:43] = (-30.0, 10.0), 1
    target = np.zeros((32, 48, 2), np.float32)
    ab = Affinity(luma).solve(target, np.ones((32, 48)), fixed_ab, mask, lam=0.0, tol=1e-4, max_iter=2000)
    assert np.allclose(ab[mask > 0], fixed_ab[mask > 0])
    assert np.abs(ab[:, :20] - (40.0, 20.0)).max() < 5  # the left hint fills the left half
    assert np.abs(ab[:, 28:] - (-30.0, 10.0)).max() < 5


def test_a_stroke_cuts_the_affinities():
    luma = np.full((32, 48), 0.5, np.float32)
    boundary = np.zeros((32, 48), np.float32)
    boundary[:, 23:25] = 1
    fixed_ab, mask = np.zeros((32, 48, 2), np.float32), np.zeros((32, 48), np.float32)
    fixed_ab[10:13, 5:8], mask[10:13, 5:8] = (50.0, 0.0), 1
    target = np.zeros((32, 48, 2), np.float32)
    ab = Affinity(luma, boundary).solve(target, np.ones((32, 48)), fixed_ab, mask, lam=0.0, tol=1e-4,
                                       max_iter=2000)
    assert ab[:, :20, 0].min() > 25  # the hint colors its side
    assert np.abs(ab[:, 27:]).max() < 1e-3  # and nothing crosses: the right keeps its target


def test_without_fixed_pixels_the_solve_stays_near_a_smooth_target():
    luma = two_halves()
    target = np.tile(np.array([10.0, -5.0], np.float32), (32, 48, 1))
    ab = Affinity(luma).solve(target, np.ones((32, 48)))
    assert np.allclose(ab, target, atol=1e-3)


def test_regression_gives_each_point_its_color_and_respects_regions():
    luma = two_halves()
    feats = [torch.randn(1, 8, 4, 6), torch.randn(1, 8, 2, 3)]
    points = Points(np.array([[5.0, 16.0], [42.0, 16.0]]), np.array([[40.0, 20.0], [-30.0, 10.0]]))
    ab, density = regress(feats, luma, points)
    assert np.abs(ab[16, 5] - (40.0, 20.0)).max() < 1 and np.abs(ab[16, 42] - (-30.0, 10.0)).max() < 1
    assert 0 <= density.min() and density.max() <= len(points)  # each kernel is at most 1
    regions = np.ones((32, 48), np.int32)
    regions[:, 24:] = 2
    regions[:, 40:] = 3  # the second point's own region
    ab, density = regress(feats, luma, points, regions)
    assert np.allclose(ab[:, 24:40], 0) and np.allclose(density[:, 24:40], 0)  # no point here
    assert np.allclose(ab[:, :24], (40.0, 20.0), atol=1e-4)
    empty, none = regress(feats, luma, Points(np.zeros((0, 2)), np.zeros((0, 2))))
    assert not empty.any() and not none.any()
