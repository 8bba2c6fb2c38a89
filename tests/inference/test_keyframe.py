"""The keyframe engine with the committed weights: shapes, luma, hint fidelity,
boundary strokes, suggested colors, and the classical method."""
import numpy as np
import pytest
import torch

from inference import color
from inference.hints import parse_hints
from inference.keyframe import KeyframeColorizer, train
from inference.keyframe.engine import WEIGHTS, confidence
from inference.keyframe.raster import hint_ab
from inference.keyframe.bins import ab_bins
from inference.keyframe.regress import Points, plausibility, regress, residual_shift, starting_answer, stroke_regions
from inference.levin import colorize_ab


@pytest.fixture(scope="module")
def engine():
    return KeyframeColorizer.load(device="cpu")


def scene(h=96, w=128):
    """A small natural-ish gray picture: a bright 'sky' above a textured 'ground'."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:h, 0:w]
    image = np.where(yy < h * 0.4, 200 - yy * 0.5, 90 + 30 * np.sin(xx / 7.0))
    return np.clip(image + rng.normal(0, 3, (h, w)), 0, 255).astype(np.uint8)


def chroma_ab(rgb):
    return color.rgb_to_lab(rgb)[..., 1:]


@pytest.mark.parametrize("method", ["cnn", "levin"])
def test_output_has_input_size_and_exact_luma(engine, method):
    gray = scene(97, 131)
    hints = parse_hints({"points": [{"x": 20, "y": 10, "color": "#4080d0", "radius": 2}]}, 131, 97)
    out = engine.colorize(gray, hints, method=method)
    assert out.shape == (97, 131, 3) and out.dtype == np.uint8
    assert np.abs(color.to_luma(out) * 255 - gray).max() <= 1.0
    assert chroma_ab(out)[5:15, 15:25].std(axis=(0, 1)).max() >= 0  # finite


def test_color_input_is_reduced_to_luma(engine):
    rgb = np.dstack([scene(), scene()[::-1], scene()[:, ::-1]])
    out = engine.colorize(rgb, None)
    assert out.shape == rgb.shape
    assert np.abs(color.to_luma(out) - color.to_luma(rgb)).max() * 255 <= 1.0


def test_no_hints_is_an_automatic_colorizer(engine):
    out = engine.colorize(scene(), None)
    assert out.shape == (96, 128, 3)


@pytest.mark.parametrize("method", ["cnn", "levin"])
def test_hints_are_followed_exactly(engine, method):
    colors = ["#b04030", "#3070c0", "#40a040"]
    # Gray levels equal to each hint's own luma, so the hint chroma fits the gamut there.
    gray = scene().copy()
    points = []
    for i, hexa in enumerate(colors):
        x, y = 20 + 40 * i, 60
        rgb = np.array([[[int(hexa[j : j + 2], 16) for j in (1, 3, 5)]]], np.uint8)
        gray[y - 3 : y + 4, x - 3 : x + 4] = color.to_uint8(color.to_luma(rgb))[0, 0]
        points.append({"x": x, "y": y, "color": hexa, "radius": 2})
    hints = parse_hints({"points": points}, 128, 96)
    out = engine.colorize(gray, hints, method=method)
    ab = chroma_ab(out)
    for p in hints.points:
        patch = ab[int(p.y) - 2 : int(p.y) + 3, int(p.x) - 2 : int(p.x) + 3]
        error = np.linalg.norm(patch - hint_ab(p.color), axis=-1)
        assert error.max() < 3.0, (p.hex, error.max())


@pytest.mark.parametrize("method", ["cnn", "levin"])
def test_a_stroke_keeps_a_hint_on_its_side(engine, method):
    """Two regions of the same gray separated by a stroke: a hint left does not color the right."""
    gray = np.full((96, 128), 128, np.uint8)
    stroke = {"points": [[64, 0], [64, 95]], "width": 3}
    hinted = parse_hints({"points": [{"x": 20, "y": 48, "color": "#c03020", "radius": 3}],
                          "strokes": [stroke]}, 128, 96)
    bare = parse_hints({"strokes": [stroke]}, 128, 96)
    with_hint = chroma_ab(engine.colorize(gray, hinted, method=method))
    without = chroma_ab(engine.colorize(gray, bare, method=method))
    red = hint_ab((0xC0, 0x30, 0x20))
    left = with_hint[:, :58].reshape(-1, 2)
    right_change = np.linalg.norm(with_hint[:, 70:] - without[:, 70:], axis=-1)
    assert (left @ red / np.linalg.norm(red)).mean() > 0.5 * np.linalg.norm(red)  # left side turned red
    assert right_change.max() < 2.0  # right side exactly as with no hint at all


def test_a_closed_region_without_its_own_hint_stays_unaffected_by_levin():
    luma = np.full((40, 40), 0.5, np.float32)
    hint = np.zeros((40, 40, 2), np.float32)
    mask = np.zeros((40, 40), np.float32)
    hint[5:8, 5:8], mask[5:8, 5:8] = (40.0, 30.0), 1.0
    boundary = np.zeros((40, 40), np.float32)
    boundary[18:20, :] = 1
    ab = colorize_ab(luma, hint, mask, boundary)
    assert np.allclose(ab[:16], (40.0, 30.0), atol=1e-3)
    assert np.abs(ab[22:]).max() < 1e-6


def test_levin_interpolates_between_hints_along_luma():
    luma = np.tile(np.linspace(0.2, 0.8, 64, dtype=np.float32), (32, 1))
    hint = np.zeros((32, 64, 2), np.float32)
    mask = np.zeros((32, 64), np.float32)
    hint[:, 0], mask[:, 0] = (50.0, 0.0), 1.0
    hint[:, -1], mask[:, -1] = (-50.0, 0.0), 1.0
    a = colorize_ab(luma, hint, mask)[..., 0]
    assert a[:, 0].min() == 50.0 and a[:, -1].max() == -50.0
    assert np.all(np.diff(a.mean(0)) <= 1e-4)  # monotone from one hint to the other
    assert np.abs(colorize_ab(luma, hint, np.zeros_like(mask))).max() == 0.0  # no hints: neutral


def test_suggestions_are_a_top_k_distribution(engine):
    gray = scene()
    hints = parse_hints({"points": [{"x": 30, "y": 70, "color": "#806020"}]}, 128, 96)
    suggestions = engine.suggest(gray, hints, 64, 20, k=5)
    assert len(suggestions) == 5
    probs = [p for _, p in suggestions]
    assert all(c.startswith("#") and len(c) == 7 for c, _ in suggestions)
    assert probs == sorted(probs, reverse=True) and all(0 < p <= 1 for p in probs)
    assert 0.05 < sum(probs) <= 1.0 + 1e-6
    assert len({c for c, _ in suggestions}) == 5
    with pytest.raises(ValueError, match="outside"):
        engine.suggest(gray, hints, 500, 20)


def test_unknown_method_is_refused(engine):
    with pytest.raises(ValueError, match="unknown method"):
        engine.colorize(scene(), None, method="magic")


def test_guidance_points_away_from_the_points_to_the_least_sure_region(engine):
    """Where to click next: sure where points are, the next place in the region they do not reach."""
    gray = scene(96, 128)
    hints = parse_hints({"points": [{"x": 20, "y": 48, "color": "#4080d0", "radius": 2},
                                    {"x": 30, "y": 20, "color": "#4080d0", "radius": 2}]}, 128, 96)
    plain = engine.colorize(gray, hints)
    out, guidance = engine.colorize(gray, hints, guidance=True)
    assert np.array_equal(out, plain)  # guidance does not change the colors
    assert guidance.map.dtype == np.uint8 and guidance.map.shape == (192, 256)  # the network's size
    x, y = guidance.next_point
    assert 0 <= x <= 127 and 0 <= y <= 95
    assert min(np.hypot(x - 20, y - 48), np.hypot(x - 30, y - 20)) >= 128 / 10
    sure = guidance.map[96, 40]  # at the first point (the map is at twice the size)
    assert sure < guidance.map[round(2 * y), round(2 * x)]
    assert guidance.colors and all(c.startswith("#") and 0 < p <= 1 for c, p in guidance.colors)
    with pytest.raises(ValueError, match="guidance comes from the network"):
        engine.colorize(gray, hints, method="levin", guidance=True)


def test_training_batches_carry_the_points_regression_as_the_starting_answer(engine):
    rng = np.random.default_rng(3)
    images = np.stack([np.dstack([scene(64, 64), scene(64, 64)[::-1], scene(64, 64)[:, ::-1]])] * 2)
    luma = np.stack([color.to_luma(im) for im in images])
    with torch.no_grad():
        feats = [f.numpy() for f in engine.model.backbone(torch.from_numpy(luma)[:, None])]
    batch = train.make_batch(rng, images, feats, [0, 1], 64)
    start_ab, support = batch[-1]
    assert start_ab.shape == (2, 2, 64, 64) and support.shape == (2, 1, 64, 64)
    assert float(support.min()) >= 0 and float(support.max()) <= 1
    # One point: its color wherever it reaches, full support at the point itself.
    point = Points(np.array([[20.0, 30.0]], np.float32), np.array([[40.0, -25.0]], np.float32))
    ab, s = starting_answer(*regress([torch.from_numpy(f[:1]) for f in feats], luma[0], point))
    reached = s[0, 0] > 0
    assert reached[30, 20] and s[0, 0, 30, 20] > 0.99
    assert np.allclose(ab[0, :, reached].numpy(), [[40.0], [-25.0]], atol=1e-3)


def test_training_limits_each_points_reach_by_the_networks_prior_as_the_engine_does(engine):
    """Training sees the starting answer the engine computes: the hint-free distribution is the
    engine's, and with it the points reach no further (and somewhere less far) than without."""
    rng_images = np.random.default_rng(5)
    images = np.stack([np.dstack([scene(64, 64), scene(64, 64)[::-1], scene(64, 64)[:, ::-1]]),
                       rng_images.integers(0, 256, (64, 64, 3), dtype=np.uint8)])
    luma = np.stack([color.to_luma(im) for im in images])
    with torch.no_grad():
        feats = [f.numpy() for f in engine.model.backbone(torch.from_numpy(luma)[:, None])]
    luma_t = torch.from_numpy(luma[:1])[:, None]
    inputs = (luma_t, torch.zeros(1, 2, 64, 64), torch.zeros(1, 1, 64, 64), torch.zeros(1, 1, 64, 64))
    engine._priors = (None, None)
    *_, logits = engine._hint_free(inputs, [torch.from_numpy(f[:1]) for f in feats])
    probs = train.hint_free_probs(engine.model, luma_t, inputs[3], [torch.from_numpy(f[:1]) for f in feats])
    assert torch.allclose(probs, torch.softmax(logits.float(), 1), atol=1e-5)
    assert engine.model.training is False  # left as it was

    plain = train.make_batch(np.random.default_rng(2), images, feats, [0, 1, 0, 1], 64)
    limited = train.make_batch(np.random.default_rng(2), images, feats, [0, 1, 0, 1], 64, model=engine.model)
    for a, b in zip(plain[:4], limited[:4]):
        assert torch.equal(a, b)  # the same samples and points
    support, held = plain[-1][1], limited[-1][1]
    assert bool((held <= support + 1e-6).all()) and float((support - held).max()) > 0.01


def test_training_can_place_the_points_where_the_worst_error_annotator_would(engine):
    """The effort benchmark's annotator puts its first points on the most saturated details
    (against a colorless start), then where the points' regression is still most wrong."""
    rgb = np.full((64, 64, 3), 128, np.uint8)
    rgb[8:16, 40:48] = (220, 30, 30)  # a small red detail on gray
    rgb[44:56, 8:20] = (40, 60, 200)  # a larger blue one
    ab = color.rgb_to_lab(rgb)[..., 1:]
    luma = color.to_luma(rgb)
    with torch.no_grad():
        feats = engine.model.backbone(torch.from_numpy(luma)[None, None])
    ys, xs, _, (regressed, density) = train.annotator_points(np.random.default_rng(0), feats, luma, ab, None,
                                                            per_round=2, max_rounds=1)
    details = {(y // 32, x // 32) for y, x in zip(ys, xs)}
    assert len(ys) == 2 and details == {(0, 1), (1, 0)}  # one point on each detail, none on gray
    for y, x in ((12, 44), (50, 14)):  # the regression of those points colors each detail
        assert np.abs(regressed[y, x] - ab[y, x]).max() < 3
    assert density.shape == luma.shape


def test_a_point_does_not_reach_where_the_network_rules_its_color_out():
    """A red point among pixels alike in features, position and luma: where the network is sure
    of blue its color does not go, where the network has no opinion it goes."""
    h, w = 8, 16
    bins = ab_bins()
    probs = torch.full((len(bins), h, w), 1 / len(bins))
    blue = int(np.argmin(((bins - [10, -50]) ** 2).sum(1)))
    probs[:, :, : w // 2] = 0
    probs[blue, :, : w // 2] = 1  # sure of blue on the left, no opinion on the right
    points = Points(np.array([[12, 4], [2, 4]], np.float32), np.array([[60, 40], [10, -50]], np.float32))
    reach = plausibility(probs, points, (h, w))
    assert reach.shape == (2, h, w) and float(reach.max()) <= 1
    assert float(reach[0, :, : w // 2].max()) < 1e-3 and float(reach[0, :, w // 2:].min()) > 0.99
    assert float(reach[1, :, : w // 2].min()) > 0.99  # blue, where the network is sure of blue

    feats = [torch.ones(1, 4, 2, 4)]  # every pixel alike
    luma = np.full((h, w), 0.5, np.float32)
    spread, _ = regress(feats, luma, points)
    held, _ = regress(feats, luma, points, reach=reach)
    assert spread[4, 6, 0] > 20  # without the reach, red crosses to the blue side (blue: a = 10)
    assert np.abs(held[:, : w // 2] - [10, -50]).max() < 1  # with it, the left stays blue
    # On the right blue is no likelier than anything else, far less than at its own point: red.
    assert np.abs(held[:, w // 2:] - [60, 40]).max() < 1


def test_where_the_network_answers_far_from_the_points_it_is_believed():
    """Dense points win where the network agrees with their regression or is unsure; where it
    answers with another color altogether, the network (which sees every point) wins."""
    density = np.full((1, 3), 1e-2, np.float32)
    entropy = np.full((1, 3), 0.65, np.float32)
    trust = confidence(density, entropy, np.array([[0.0, 10.0, 80.0]], np.float32))
    assert trust[0, 0] > 0.98 and trust[0, 1] > 0.85 and trust[0, 2] < 0.01


def test_a_hint_edit_reuses_the_frames_answer_without_points(engine, monkeypatch):
    """The network runs without points once per frame and strokes (the prior the points are
    judged by), and once per edit with them."""
    calls = []
    network = engine._network
    monkeypatch.setattr(engine, "_network", lambda *a: calls.append(1) or network(*a))
    gray = scene(64, 80)  # a frame no other test used
    one = parse_hints({"points": [{"x": 20, "y": 10, "color": "#4080d0", "radius": 2}]}, 80, 64)
    two = parse_hints({"points": [{"x": 20, "y": 10, "color": "#4080d0", "radius": 2},
                                  {"x": 60, "y": 50, "color": "#c04030", "radius": 2}]}, 80, 64)
    engine.colorize(gray, one)
    engine.colorize(gray, two)
    assert len(calls) == 3
    stroked = parse_hints({"points": [{"x": 20, "y": 10, "color": "#4080d0", "radius": 2}],
                           "strokes": [{"points": [[0, 30], [79, 30]], "width": 2}]}, 80, 64)
    engine.colorize(gray, stroked)
    assert len(calls) == 5  # new strokes: a new answer without points


def test_weights_for_another_starting_answer_are_refused(tmp_path):
    blob = torch.load(WEIGHTS, map_location="cpu", weights_only=True)
    blob["meta"] = {**blob["meta"], "start": "pyramid"}  # trained to correct another first guess
    torch.save(blob, tmp_path / "other.pt")
    with pytest.raises(RuntimeError, match="do not match"):
        KeyframeColorizer.load(weights=tmp_path / "other.pt")


def test_the_points_residual_is_spread_within_its_stroke_region():
    """One point's residual is the shift everywhere it counts; strokes keep residuals apart, and a
    region without points gets none."""
    points = Points(np.array([[4.0, 4.0], [28.0, 4.0]], np.float32), np.zeros((2, 2), np.float32))
    residual = np.array([[10.0, -5.0], [-20.0, 0.0]], np.float32)
    one = residual_shift(Points(points.xy[:1], points.ab[:1]), residual[:1], (24, 32))
    assert np.allclose(one, [10.0, -5.0], atol=1e-4)
    boundary = np.zeros((24, 32), np.float32)
    boundary[:, 16] = 1  # left | right
    boundary[16, 17:] = 1  # the right half split: top (with the point) / bottom (none)
    shift = residual_shift(points, residual, (24, 32), stroke_regions(boundary))
    assert np.allclose(shift[8, 2], [10.0, -5.0], atol=1e-4) and np.allclose(shift[20, 10], [10.0, -5.0], atol=1e-4)
    assert np.allclose(shift[8, 30], [-20.0, 0.0], atol=1e-4)
    assert np.allclose(shift[22, 30], 0.0)
    assert not residual_shift(Points(np.zeros((0, 2)), np.zeros((0, 2))), np.zeros((0, 2)), (24, 32)).any()
    # Without strokes the spread is computed separably: the same as within one region covering all.
    rng = np.random.default_rng(1)
    many = Points(rng.uniform(0, 32, (30, 2)).astype(np.float32), np.zeros((30, 2), np.float32))
    residuals = rng.normal(0, 10, (30, 2)).astype(np.float32)
    whole = np.ones((24, 32), np.int32)
    assert np.allclose(residual_shift(many, residuals, (24, 32)), residual_shift(many, residuals, (24, 32), whole),
                       atol=1e-4)


def test_one_point_tells_the_engine_what_it_got_wrong_far_from_the_point(engine, monkeypatch):
    """A point far from its colors' usual place: where the point does not reach, the network's
    colors move toward what the point says they lack, by a share of it."""
    from inference.keyframe import engine as module

    gray = scene()
    hints = parse_hints({"points": [{"x": 20, "y": 10, "color": "#b06030", "radius": 2}]}, 128, 96)
    shifted = chroma_ab(engine.colorize(gray, hints))
    monkeypatch.setattr(module, "RESIDUAL_SHARE", 0.0)
    plain = chroma_ab(engine.colorize(gray, hints))
    prior = chroma_ab(engine.colorize(gray, None))
    residual = hint_ab((0xb0, 0x60, 0x30)) - prior[10, 20]
    far = (slice(70, 90), slice(90, 120))  # the textured ground, far from the sky point
    moved = (shifted[far] - plain[far]).reshape(-1, 2).mean(0)
    assert np.dot(moved, residual) > 0.1 * np.dot(residual, residual) * module.RESIDUAL_SHARE
