"""The shot propagation engine on small synthetic shots (no shared data needed)."""
import cv2
import numpy as np
import pytest
import torch

from inference.color import as_float, compose_lab, rgb_to_lab, to_luma, to_uint8, with_luma
from inference.propagation import PropagationError, ShotPropagator, stretches
from inference.propagation.engine import WEIGHTS
from inference.propagation.evaluate import FIRST_SHIPPED, cdc, psnr, synthetic_shot
from inference.propagation.features import Candidate, joint_confidence
from inference.propagation.match import FeatureMatcher, match
from inference.propagation.solve import edge_aware_solve
from inference.propagation.train import pixel_loss


@pytest.fixture(scope="module")
def shot():
    """A colored texture under a drifting camera: color frames and their 8-bit luma."""
    color = synthetic_shot(96, 64, 14, seed=3)
    return color, [to_uint8(to_luma(f)) for f in color]


@pytest.fixture(scope="module")
def cnn():
    assert WEIGHTS.exists(), "propagation weights are part of the tree"
    return ShotPropagator.load(method="cnn")


@pytest.fixture(scope="module")
def flow():
    return ShotPropagator.load(method="flow")


@pytest.fixture(scope="module")
def unrefined():
    """The CNN engine without the edge-aware solve (refine=False)."""
    return ShotPropagator.load(method="cnn", refine=False)


def run(propagator, frames, keyframes, **kwargs):
    return dict(propagator.propagate(frames, keyframes, **kwargs))


@pytest.mark.parametrize("method", ["cnn", "flow", "unrefined"])
def test_output_luma_is_source_luma_and_keyframes_come_back(shot, method, request):
    color, gray = shot
    propagator = request.getfixturevalue(method)
    keyframes = {2: color[2], 9: color[9]}
    out = run(propagator, gray, keyframes)
    assert sorted(out) == list(range(len(gray)))
    for index, rgb in out.items():
        assert rgb.dtype == np.uint8 and rgb.shape == color[0].shape
        assert np.abs(to_luma(rgb) * 255 - gray[index]).max() <= 1.0
    for index, key in keyframes.items():  # the keyframe's chroma on the source luma (8-bit)
        assert np.array_equal(out[index], to_uint8(with_luma(as_float(gray[index]), as_float(key))))
        assert np.abs(out[index].astype(int) - key).mean() < 0.6
    # frames away from the keyframes really are colored (not gray)
    assert rgb_to_lab(out[5])[..., 1:].std() > 5


@pytest.mark.parametrize("method", ["cnn", "unrefined"])
def test_stretches_joined_equal_the_whole_run(shot, method, request):
    cnn = request.getfixturevalue(method)
    color, gray = shot
    keyframes = {3: color[3], 8: color[8], 11: color[11]}
    plan = stretches(len(gray), keyframes)
    assert plan == [(0, 3), (3, 8), (8, 11), (11, 14)]
    joined = {}
    for start, end in reversed(plan):  # any order, as separate workers would
        part = dict(cnn.propagate_stretch(gray, keyframes, start, end))
        assert sorted(part) == list(range(start, end))
        joined.update(part)
    whole = run(cnn, gray, keyframes)
    assert all(np.array_equal(whole[i], joined[i]) for i in whole)


@pytest.mark.parametrize("method", ["cnn", "unrefined"])
def test_two_runs_are_identical(shot, method, request):
    cnn = request.getfixturevalue(method)
    color, gray = shot
    keyframes = {0: color[0], 13: color[13]}
    first, second = run(cnn, gray, keyframes), run(cnn, list(gray), dict(keyframes))
    assert all(np.array_equal(first[i], second[i]) for i in first)


def test_the_fusion_network_beats_or_matches_the_flow_method(shot, unrefined, flow):
    """The network alone: this shot's colors change where its luma has no edge (random color blobs
    under independent texture), which the edge-aware solve smooths by design; the solve is measured
    on real clips (model card)."""
    color, gray = shot
    keyframes = {0: color[0], 13: color[13]}
    scores = {}
    for name, propagator in (("cnn", unrefined), ("flow", flow)):
        out = run(propagator, gray, keyframes)
        scores[name] = np.mean([psnr(out[i], color[i]) for i in range(1, 13)])
    assert scores["cnn"] >= scores["flow"] - 0.05, scores
    assert scores["flow"] > 20  # the baseline itself tracks the motion


def test_callable_source_progress_and_guided_full_resolution():
    color = synthetic_shot(400, 180, 6, seed=5)  # larger than the working resolution
    gray = [to_uint8(to_luma(f)) for f in color]
    calls = []
    out = dict(ShotPropagator.load(method="flow").propagate(
        lambda i: gray[i], {0: color[0], 5: color[5]}, count=6, progress=lambda done, total: calls.append((done, total))))
    assert calls[-1] == (6, 6) and len(calls) == 6
    assert np.mean([psnr(out[i], color[i]) for i in range(1, 5)]) > 22
    assert np.abs(to_luma(out[3]) * 255 - gray[3]).max() <= 1.0


@pytest.mark.parametrize("method", ["cnn", "flow"])
def test_keyframe_colors_finer_than_the_working_resolution_are_carried(method, request):
    """6-px color cells panning across a 960x540 shot: at the working resolution (320 px) they are
    2 px, so chroma brought back from there alone cannot show them; the keyframes' own detail can."""
    rng = np.random.default_rng(7)
    cells = rng.integers(0, 256, (92, 170, 3)).astype(np.uint8)
    scene = cv2.resize(cells, (170 * 6, 92 * 6), interpolation=cv2.INTER_NEAREST)
    color = [np.ascontiguousarray(scene[:540, 6 * t : 6 * t + 960]) for t in range(5)]
    gray = [to_uint8(to_luma(f)) for f in color]
    propagator = request.getfixturevalue(method)
    out = run(propagator, gray, {0: color[0], 4: color[4]})
    work = propagator._work_size((540, 960))
    # The best any method limited to working-resolution chroma can do: the true chroma at that size.
    ceiling = [psnr(to_uint8(compose_lab(as_float(gray[i]), propagator._upsample(as_float(gray[i]),
                                                                                  propagator._work_ab(color[i], work)))),
                    color[i]) for i in range(1, 4)]
    scores = [psnr(out[i], color[i]) for i in range(1, 4)]
    assert min(scores) > max(ceiling) + 10, (scores, ceiling)


def test_cdc_is_zero_for_a_still_and_grows_with_flicker(shot):
    color, _ = shot
    still = [color[0]] * 6
    flicker = [np.clip(color[0].astype(int) + (20 if i % 2 else 0), 0, 255).astype(np.uint8) for i in range(6)]
    assert cdc(still) == 0.0 and cdc(flicker) > 0.01


@pytest.mark.parametrize("keyframes, message", [
    ({}, "at least one"),
    ({20: None}, "outside the shot"),
    ({2: np.zeros((10, 10, 3), np.uint8)}, "x10"),
])
def test_bad_input_is_refused(shot, flow, keyframes, message):
    _, gray = shot
    with pytest.raises(PropagationError, match=message):
        run(flow, gray, keyframes)


@pytest.mark.parametrize("height, width", [(16, 16), (16, 1000), (1000, 16), (37, 4001)])
def test_every_frame_size_the_studio_admits_is_propagated(flow, height, width):
    """A 16x1000 shot was worked on at 8x320, which the optical flow and the resize refused."""
    rng = np.random.default_rng(3)
    gray = [(rng.random((height, width)) * 255).astype(np.uint8) for _ in range(3)]
    key = np.stack([gray[0], gray[0] // 2, 255 - gray[0]], -1)
    frames = dict(run(flow, gray, {0: key}))
    assert sorted(frames) == [0, 1, 2] and frames[2].shape == (height, width, 3)


def test_a_frame_under_the_smallest_size_is_refused_by_name(flow):
    gray = [np.zeros((12, 40), np.uint8)] * 3
    with pytest.raises(PropagationError, match="40x12; frames of at least 16 pixels on each side"):
        run(flow, gray, {0: np.zeros((12, 40, 3), np.uint8)})


def test_bad_stretch_and_method_are_refused(shot, flow):
    color, gray = shot
    with pytest.raises(PropagationError, match="not a stretch"):
        list(flow.propagate_stretch(gray, {3: color[3]}, 0, 5))
    with pytest.raises(PropagationError, match="unknown method"):
        ShotPropagator.load(method="magic")
    frames = list(gray)
    frames[4] = frames[4][:32]
    with pytest.raises(PropagationError, match="frame 4"):
        run(flow, frames, {0: color[0]})


def test_the_first_shipped_network_runs_as_trained_and_foreign_weights_are_refused(tmp_path):
    """The reference network (three candidates, before matching) loads widened: the matched candidate's
    planes change nothing. A weights file of another shape is refused with a clear error."""
    from inference.propagation.network import CANDIDATES, IN_CHANNELS

    model = ShotPropagator.load(weights=FIRST_SHIPPED).model
    x = torch.rand(1, IN_CHANNELS, 32, 48)
    matched = slice(1 + 4 * (CANDIDATES - 1), 1 + 4 * CANDIDATES)
    y = x.clone()
    y[:, matched] = torch.rand(1, 4, 32, 48)
    with torch.no_grad():
        assert torch.allclose(model(x), model(y), atol=1e-6)
    state = torch.load(FIRST_SHIPPED, weights_only=True)
    state["model"]["enc1.0.0.weight"] = state["model"]["enc1.0.0.weight"][:, :9]
    torch.save(state, tmp_path / "other.pt")
    with pytest.raises(PropagationError, match="does not fit this engine's fusion network"):
        ShotPropagator.load(weights=tmp_path / "other.pt")


def test_solve_keeps_confident_chroma_follows_luma_edges_and_removes_blocks():
    """A frame whose luma has one vertical edge (at x=32); the carried chroma has a block
    boundary at x=16 (no luma edge there, half-trusted flow) and an unconfident patch across the luma edge."""
    luma = np.full((48, 64), 0.3, np.float32)
    luma[:, 32:] = 0.7
    ab = np.zeros((48, 64, 2), np.float32)
    ab[:, :32, 0] = 30.0  # red left of the edge ...
    ab[:, :16, 0] = 40.0  # ... in two flow blocks the frame does not show
    ab[:, 32:, 1] = -30.0  # blue right of it
    confidence = np.full((48, 64), 0.9, np.float32)
    confidence[:, :24] = 0.5
    ab[16:32, 24:40] = (0.0, 60.0)  # a smeared, unconfident trail across the edge
    confidence[16:32, 24:40] = 0.0
    out = edge_aware_solve(luma, ab, confidence)
    # the trail takes the color of its own side of the edge; no color crosses the edge
    assert np.abs(out[24, 26] - (30, 0)).max() < 4 and np.abs(out[24, 36] - (0, -30)).max() < 4
    # the block step without a luma edge is smoothed: neighbours across it differ far less than 10
    assert abs(out[5, 16, 0] - out[5, 15, 0]) < 3
    # confident chroma away from all that is kept
    assert np.abs(out[5, 50] - (0, -30)).max() < 1
    with pytest.raises(ValueError, match="differ in size"):
        edge_aware_solve(luma, ab[:10], confidence)


def test_solve_holds_unsure_chroma_to_the_previous_frame_and_sure_chroma_to_its_data():
    """Flicker: a flat frame whose fused chroma jumped (an unsure left half, a sure right half);
    the previous frame's solved chroma, carried onto it, holds the unsure half and not the sure one."""
    luma = np.full((32, 48), 0.5, np.float32)
    luma[:, 24:] = 0.8  # an edge between the halves
    ab = np.zeros((32, 48, 2), np.float32)
    ab[..., 0] = 20.0  # this frame's fused a
    confidence = np.full((32, 48), 0.05, np.float32)
    confidence[:, 24:] = 0.99
    previous = np.zeros_like(ab)
    previous[..., 0] = 10.0  # what the previous frame showed
    alone = edge_aware_solve(luma, ab, confidence)
    assert np.array_equal(edge_aware_solve(luma, ab, confidence, previous=(previous, np.zeros_like(luma))), alone)
    held = edge_aware_solve(luma, ab, confidence, previous=(previous, np.ones_like(luma)))
    assert abs(held[16, 8, 0] - 10.0) < 1.5 and abs(alone[16, 8, 0] - 20.0) < 0.5
    assert abs(held[16, 40, 0] - 20.0) < 1.0  # sure chroma stays
    with pytest.raises(ValueError, match="do not fit"):
        edge_aware_solve(luma, ab, confidence, previous=(previous[:8], np.ones_like(luma)))


def test_confidence_comes_with_every_frame_and_drops_where_the_flow_cannot_see(cnn, flow):
    """A still scene with one square that jumps: the flow cannot follow it, so the frames
    between the keyframes are trusted less where the square was and is. The feature match finds
    the square again, but the fused color there is not the matched one (magenta, not red), so
    the match vouches for none of it and the region stays as unsure as the flow says."""
    base = synthetic_shot(160, 96, 1, seed=4)[0]
    color = []
    for t in range(8):
        frame = base.copy()
        frame[30:60, 10 + 16 * t: 40 + 16 * t] = (230, 40, 40)
        color.append(frame)
    gray = [to_uint8(to_luma(f)) for f in color]
    keyframes = {0: color[0], 7: color[7]}
    items = list(cnn.propagate(gray, keyframes, with_confidence=True))
    assert [i for i, *_ in items] == list(range(8))
    plain = run(cnn, gray, keyframes)
    for index, rgb, confidence in items:
        assert np.array_equal(rgb, plain[index])  # the same frames as without confidence
        assert confidence.map.dtype == np.uint8 and max(confidence.map.shape) <= 80
        assert 0 <= confidence.low <= 1 and set(confidence.summary()) == {"mean", "low"}
        if index in keyframes:
            assert confidence.mean == 1.0 and confidence.low == 0.0
    conf = items[4][2].map.astype(float) / 255
    flow_conf = list(flow.propagate(gray, keyframes, with_confidence=True))[4][2].map.astype(float) / 255
    h, w = conf.shape
    square = (slice(int(30 / 96 * h), int(60 / 96 * h)), slice(int(60 / 160 * w), int(110 / 160 * w)))
    # the still background is trusted, the region the square moves through much less by the flow
    assert conf[int(0.8 * h):, :].mean() > 0.8 and flow_conf[int(0.8 * h):, :].mean() > 0.8
    assert flow_conf[square].mean() < 0.5
    assert conf[square].mean() < flow_conf[square].mean() + 0.05


def test_matching_finds_a_region_the_flow_lost():
    """A textured red square moves 40 px between a keyframe and a frame; given a zero flow (the flow
    lost it), matching within the window still finds the square's color where it now is."""
    rng = np.random.default_rng(2)
    texture = (rng.random((30, 30)) * 0.3 + 0.5).astype(np.float32)
    key_luma = np.full((96, 160), 0.2, np.float32)
    key_luma[30:60, 20:50] = texture
    luma = np.full((96, 160), 0.2, np.float32)
    luma[30:60, 60:90] = texture
    key_ab = np.zeros((96, 160, 2), np.float32)
    key_ab[30:60, 20:50] = (50.0, 30.0)
    matcher = FeatureMatcher(torch.device("cpu"))
    keyframes = [(matcher.features(key_luma), key_luma, key_ab, np.zeros((96, 160, 2), np.float32))]
    found = match(luma, matcher.features(luma), keyframes)
    matched, confidence = found.ab, found.confidence
    assert found.mismatch.shape == (96, 160)
    assert matched.shape == (96, 160, 2) and confidence.shape == (96, 160)
    assert matched[40:50, 70:80, 0].mean() > 25  # red found where the square is now
    assert np.abs(matched[75:90, 120:150]).max() < 10  # the plain ground stays gray
    assert confidence[40:50, 70:80].mean() > 0.5
    # At a quarter of the size the feature grid (3 x 5 cells) is smaller than the window: a frame-wide
    # average, not a match, so the match vouches for nothing (the network then ignores it).
    small = [cv2.resize(plane, (40, 24), interpolation=cv2.INTER_AREA) for plane in (key_luma, luma, key_ab)]
    keyframes = [(matcher.features(small[0]), small[0], small[2], np.zeros((24, 40, 2), np.float32))]
    found = match(small[1], matcher.features(small[1]), keyframes)
    assert found.ab.shape == (24, 40, 2) and not found.confidence.any()


def test_points_are_carried_along_the_motion_and_an_occluded_one_loses_confidence():
    from inference.propagation.track import track_points

    rng = np.random.default_rng(5)
    texture = cv2.GaussianBlur((rng.random((400, 560)) * 255).astype(np.uint8), (0, 0), 2)
    frames = [texture[100 - 2 * t: 340 - 2 * t, 100 - 3 * t: 420 - 3 * t].copy() for t in range(11)]
    for t, frame in enumerate(frames):  # a flat gray card slides in from the right over the last frames
        left = 320 - 24 * max(0, t - 5)
        frame[:, left:] = 128
    # Moving right by 3 px and down by 2 px a frame; the last point ends under the card.
    start = np.array([[60.0, 50.0], [160.0, 120.0], [100.0, 200.0], [250.0, 100.0]])
    end, confidence = track_points(frames, start)
    assert np.abs(end[:3] - (start[:3] + [30, 20])).max() < 1.0, end
    assert confidence[:3].min() > 0.5 and confidence[3] < 0.2, confidence
    back, _ = track_points(frames[::-1], end[:3])  # backward in time too
    assert np.abs(back - start[:3]).max() < 1.0


def test_keyframe_plan_is_the_fewest_that_hold_the_level_and_keys_both_sides_of_a_cut():
    from inference.propagation.plan import carry_steps, frame_confidence, plan_keyframes

    steady = np.full(30, 0.9, np.float32)  # 31 frames, 10% of the color lost a frame
    plan = plan_keyframes(steady, 0.5)
    confidence = frame_confidence(steady, plan)
    assert confidence.min() >= 0.5 and len(plan) == 3
    # One fewer cannot do it, wherever it goes.
    assert max(frame_confidence(steady, [a, b]).min() for a in range(31) for b in range(a, 31)) < 0.5
    assert plan_keyframes(steady, 0.5, keep=plan) == []  # already held
    with pytest.raises(ValueError, match="between 0 and 1"):
        plan_keyframes(steady, 1.0)

    # Real frames: a textured picture panning slowly, cut to another one at frame 12.
    rng = np.random.default_rng(2)
    first, second = (cv2.GaussianBlur((rng.random((200, 300)) * 255).astype(np.uint8), (0, 0), 2) for _ in range(2))
    frames = [first[10:130, 10 + t: 170 + t] for t in range(12)] + [second[10:130, 10 + t: 170 + t] for t in range(12)]
    steps = carry_steps(frames)
    assert steps.shape == (23,) and steps[11] < 0.2 and np.delete(steps, 11).min() > 0.6, steps
    plan = plan_keyframes(steps, 0.3)
    assert len(plan) == 2 and plan[0] < 12 <= plan[1]


def test_training_can_weigh_the_pixels_the_keyframes_flow_cannot_reach():
    target = torch.zeros(1, 2, 2, 2)
    carried = torch.tensor([[[1.0, 1.0], [0.0, 1.0]]])  # one pixel the flow candidates cannot vouch for
    wrong_there, wrong_elsewhere = target.clone(), target.clone()
    wrong_there[0, :, 1, 0] = 1.0
    wrong_elsewhere[0, :, 0, 0] = 1.0
    assert pixel_loss(wrong_there, target, carried) == pixel_loss(wrong_elsewhere, target, carried) == 0.25
    assert pixel_loss(wrong_there, target, carried, uncarried_weight=4.0) > 0.25
    assert pixel_loss(wrong_elsewhere, target, carried, uncarried_weight=4.0) < 0.25


def test_a_match_vouches_for_its_own_color_not_for_a_color_carried_into_its_region():
    """Sky a moving object uncovers: no keyframe's flow reaches it, the match is sure it is blue.
    The recurrence's carried gray there must not inherit the match's confidence (the edge-aware
    solve would keep it), while the same blue as the match's does."""
    blue = np.full((4, 4, 2), (-5.0, -30.0), np.float32)
    sure_match = Candidate(blue, np.full((4, 4), 0.9, np.float32), np.zeros((4, 4), np.float32))
    unreached = np.zeros((4, 4), np.float32)
    gray = np.zeros((4, 4, 2), np.float32)
    assert joint_confidence(unreached, sure_match, blue).min() == pytest.approx(0.9)
    assert joint_confidence(unreached, sure_match, gray).max() < 0.01
    carried = np.full((4, 4), 0.7, np.float32)  # where the flow vouches, the match changes nothing it needs
    assert joint_confidence(carried, sure_match, gray).min() >= 0.7
