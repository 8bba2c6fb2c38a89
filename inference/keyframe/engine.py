"""KeyframeColorizer: the keyframe engine's public face.

    engine = KeyframeColorizer.load(device="cpu")          # weights load once
    rgb = engine.colorize(image, hints, method="cnn", long_side=512)
    engine.suggest(image, hints, x, y, k=5)                  # [('#rrggbb', p), ...]
    rgb, guidance = engine.colorize(image, hints, guidance=True)  # where the next point helps most

Method "cnn", at the network's size (long side 256, the size it was trained at):
1. the color points regressed in deep-feature space (`regress`: Nadaraya-Watson over the
   network's frozen backbone features, position and luma), with their kernel density; each
   point reaches only as far as the network without points finds its color plausible
   (`plausibility`), so that a point on a small saturated object stays on things like it;
2. the network's colors (a learned correction of that regression, trained on it) and the
   entropy of its a/b-bin distribution;
3. the two mixed per pixel by a computed confidence (`confidence`: dense points in feature
   space win, a sure network needs denser points to be overruled, and where the network's
   answer is far from the points' it is believed); where the points do not reach, the
   network's colors move by a share of what the points say it got wrong about the whole frame
   (`residual_shift`: each point's color minus the network's without points, spread widely);
4. an edge-aware global solve (`inference.solve`: Levin's affinities, weakly pulled toward
   that mix, hinted pixels fixed, boundary strokes cutting the affinities), by conjugate
   gradients warm-started from the mix.
With guidance, the same pass says where the result is least sure (`uncertainty`: the network's
entropy where the points do not reach, their disagreement with it where they do) and where the
next point would help most (`Guidance`).
The answer is brought to the working size (long side `long_side`, where hints and strokes
are rasterized) and then to the source size with luma-guided upsampling; hinted pixels are
set exactly and the source luma is kept exactly. Backbone features, the network's answer
without points and the solve's affinities depend on the frame (and strokes) alone and are reused
while only the points change (previews).
"""
from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from inference import color, levin
from inference.hints import Hints
from inference.keyframe import raster
from inference.keyframe.bins import ab_bins
from inference.keyframe.model import KeyframeNet
from inference.keyframe.regress import (Points, plausibility, regress, residual_shift, starting_answer,
                                        stroke_regions)
from inference.solve import Affinity

WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "keyframe.pt"
NET_SIDE = 256
METHODS = ("cnn", "levin")
START = "regression"  # the starting answer the network corrects (weights meta "start")
PULL = 0.03  # the solve's pull toward its target, relative to one neighbourhood's affinities
# Confidence of the points' regression against the network (tuned on training-split photos):
DENSITY_HALF = 1e-4  # the points' kernel density at which the two weigh equally, at typical entropy
TYPICAL_ENTROPY = 0.65  # the network's usual normalized entropy on photos
ENTROPY_GAIN = 10.0  # a surer network (lower entropy) needs denser points to be overruled
AGREEMENT_SCALE = 30.0  # a/b distance (Lab units) at which the network's answer overrules the points' by e
# Where the points do not reach, the network's colors move by this share of the points' residual
# against its colors without points (`regress.residual_shift`; chosen on training-split photos).
RESIDUAL_SHARE = 0.4


# Where to click next: a/b this far apart (Lab units) between the network and the points'
# regression count as full disagreement; the next point is sought in regions of about 1/12 of
# the long side, at least 1/10 of it from every point already placed.
DISAGREEMENT_SCALE = 40.0
NEXT_REGION, NEXT_CLEARANCE = 1 / 12, 1 / 10


@dataclass
class Guidance:
    """Where a keyframe's result is least sure, for the annotator's next point.

    map: uint8 HxW at the network's size (long side 256), 0 sure .. 255 least sure.
    next_point: (x, y) in source pixels, the centre of the least sure region away from every
    point; None when no pixel is left. colors: the network's likely colors there, [("#rrggbb",
    probability), ...], most likely first.
    """
    map: np.ndarray
    next_point: tuple[float, float] | None
    colors: list[tuple[str, float]]


def uncertainty(entropy: np.ndarray, trust: np.ndarray | None = None, disagreement: np.ndarray | None = None
                ) -> np.ndarray:
    """HxW float32 in [0, 1]: how unsure the engine is of each pixel's color.

    entropy: the network's normalized a/b-bin entropy; trust: the points' regression weight
    (`confidence`); disagreement: |regression - network| / DISAGREEMENT_SCALE, clipped to 1.
    Without points it is the entropy; with them, the larger of entropy and disagreement where
    the points do not reach (1 - trust): hinted and well-covered pixels are sure.
    """
    if trust is None:
        return entropy.astype(np.float32)
    return ((1 - trust) * np.maximum(entropy, disagreement)).astype(np.float32)


def confidence(density: np.ndarray, entropy: np.ndarray, gap: np.ndarray) -> np.ndarray:
    """HxW weight in [0, 1] of the points' regression against the network's own colors.

    density: HxW kernel density of the points in feature space (`regress`), entropy: HxW
    entropy of the network's a/b-bin distribution divided by log(bins), in [0, 1]; gap: HxW
    distance between the two's a/b (Lab units). The weight is density / (density + half), half
    growing as the network grows sure of its colors, times exp(-(gap / AGREEMENT_SCALE)^2): the
    network sees every point and where they belong, so where it answers far from the
    regression (a point's color carried onto things unlike it) it is the one believed.
    """
    half = DENSITY_HALF * np.exp(ENTROPY_GAIN * (TYPICAL_ENTROPY - entropy))
    return (density / (density + half) * np.exp(-(gap / AGREEMENT_SCALE) ** 2)).astype(np.float32)


class KeyframeColorizer:
    def __init__(self, model: KeyframeNet | None, device: str = "cpu", meta: dict | None = None):
        self.model = model.to(device).eval() if model is not None else None
        self.device = device
        self.meta = meta or {}
        self._lock = threading.Lock()
        self._features = (None, None)  # (luma digest, backbone features): previews reuse them
        self._affinities = (None, None)  # (luma and strokes digest, Affinity)
        self._priors = (None, None)  # (luma and strokes digest, the network's answer without points)

    @classmethod
    def load(cls, device: str = "cpu", weights: Path | str = WEIGHTS) -> "KeyframeColorizer":
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise RuntimeError("device 'cuda' requested but no CUDA GPU is available")
        blob = torch.load(Path(weights), map_location="cpu", weights_only=True)
        model = KeyframeNet()
        missing, unexpected = model.load_state_dict({k: v.float() for k, v in blob["state"].items()}, strict=False)
        meta = blob.get("meta") or {}
        # Weights trained on another starting answer (the earlier pyramid fill) load but mislead.
        if unexpected or any(not k.startswith("backbone.") for k in missing) or meta.get("start") != START:
            raise RuntimeError(f"{weights}: weights do not match the keyframe network")
        return cls(model, device, meta)

    @classmethod
    def levin_only(cls) -> "KeyframeColorizer":
        """An engine for the classical method alone (no weights needed)."""
        return cls(None)

    # --- public API ---------------------------------------------------------------------------

    def colorize(self, image: np.ndarray, hints: Hints | None = None, method: str = "cnn",
                 long_side: int = 512, guidance: bool = False):
        """uint8 gray HxW or RGB HxWx3 -> uint8 RGB HxWx3 with the input's luma; with
        guidance=True (method "cnn"), (RGB, Guidance): where the next point would help most."""
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}: expected one of {', '.join(METHODS)}")
        if method == "cnn" and self.model is None:
            raise RuntimeError("this engine was created without network weights; use method='levin'")
        if guidance and method != "cnn":
            raise ValueError("guidance comes from the network: use method='cnn'")
        hints = hints or Hints()
        luma = color.to_luma(image)
        ab, guide = self._working_ab(luma, hints, method, long_side, guidance)
        if ab.shape[:2] != luma.shape:
            ab = color.guided_upsample(luma, ab)
        hint_ab, mask = raster.point_planes(hints, luma.shape)
        ab = np.where(mask[..., None] > 0, hint_ab, ab)
        rgb = color.to_uint8(color.compose_lab(luma, ab))
        return (rgb, guide) if guidance else rgb

    def suggest(self, image: np.ndarray, hints: Hints | None, x: float, y: float, k: int = 5,
                long_side: int = 512) -> list[tuple[str, float]]:
        """Top-k likely colors at source pixel (x, y) from the network's a/b-bin distribution."""
        luma = color.to_luma(image)
        h, w = luma.shape
        if not (0 <= x <= w - 1 and 0 <= y <= h - 1):
            raise ValueError(f"({x:g}, {y:g}) is outside the {w}x{h} image")
        hints = hints or Hints()
        *_, (_, _, logits) = self._passes(luma, hints, min(long_side, NET_SIDE))
        return self._likely_colors(logits, luma, x, y, k)

    @staticmethod
    def _likely_colors(logits: torch.Tensor, luma: np.ndarray, x: float, y: float, k: int) -> list[tuple[str, float]]:
        """Top-k colors at source pixel (x, y) of the bin logits (1, bins, h, w) of a frame of luma HxW."""
        h, w = luma.shape
        # Sample the logits at the point (bilinear, align_corners=False convention).
        grid = torch.tensor([[[[2 * (x + 0.5) / w - 1, 2 * (y + 0.5) / h - 1]]]], dtype=logits.dtype,
                            device=logits.device)
        at = torch.nn.functional.grid_sample(logits, grid, mode="bilinear", align_corners=False)[0, :, 0, 0]
        probs = torch.softmax(at, 0).cpu().numpy()
        L = color.luma_to_L(np.array([[luma[int(round(y)), int(round(x))]]], np.float32))[0, 0]
        merged: dict[str, float] = {}
        for i in np.argsort(-probs)[: max(4 * k, k)]:
            lab = np.array([[[L, *ab_bins()[i]]]], np.float32)
            rgb = color.with_luma(np.array([[luma[int(round(y)), int(round(x))]]]), color.lab_to_rgb(lab))
            hexa = "#%02x%02x%02x" % tuple(int(v) for v in color.to_uint8(rgb)[0, 0])
            merged[hexa] = merged.get(hexa, 0.0) + float(probs[i])
        return sorted(merged.items(), key=lambda kv: -kv[1])[:k]

    # --- internals ---------------------------------------------------------------------------

    def working_ab(self, luma: np.ndarray, hints: Hints, method: str, long_side: int) -> np.ndarray:
        """a/b (Lab units) at the working size for float luma of the source size."""
        return self._working_ab(luma, hints, method, long_side, False)[0]

    def _working_ab(self, luma: np.ndarray, hints: Hints, method: str, long_side: int, guidance: bool):
        h, w = luma.shape
        wh, ww = color.working_size(h, w, min(long_side, max(h, w)))
        luma_w = cv2.resize(luma, (ww, wh), interpolation=cv2.INTER_AREA)
        hint_w, mask_w = raster.point_planes(hints, (h, w), (wh, ww))
        if method == "levin":
            return levin.colorize_ab(luma_w, hint_w, mask_w, raster.boundary_plane(hints, (h, w), (wh, ww))), None
        ab, guide = self._engine_ab(luma, hints, min(long_side, NET_SIDE), guidance)
        if ab.shape[:2] != (wh, ww):
            ab = color.guided_upsample(luma_w, ab)
        return np.where(mask_w[..., None] > 0, hint_w, ab).astype(np.float32), guide

    def _engine_ab(self, luma: np.ndarray, hints: Hints, side: int, guidance: bool = False):
        """The engine at the network's size: the network's colors, the points regressed in
        feature space, the two weighed by a computed confidence, then the edge-aware solve.
        Returns (a/b HxWx2, Guidance or None)."""
        (luma_n, hint_n, mask_n, boundary_n), points, (reg, density, shift), (net, entropy, logits) = \
            self._passes(luma, hints, side)
        if not len(points):
            return net, (self._guidance(uncertainty(entropy), points, logits, luma) if guidance else None)
        gap = np.linalg.norm(reg - net, axis=-1)
        trust = confidence(density, entropy, gap)
        target = trust[..., None] * reg + (1 - trust[..., None]) * (net + RESIDUAL_SHARE * shift)
        ab = self._affinity(luma_n, boundary_n).solve(target, np.ones_like(luma_n), hint_n, mask_n, lam=PULL,
                                                      guess=target)
        if not guidance:
            return ab, None
        disagreement = np.minimum(gap / DISAGREEMENT_SCALE, 1.0)
        return ab, self._guidance(uncertainty(entropy, trust, disagreement), points, logits, luma)

    def _passes(self, luma: np.ndarray, hints: Hints, side: int):
        """The network's planes at its size (`_net_planes`), the points there, their regression
        (a/b, density) with their residual shift (`regress.residual_shift`), and the network's
        answer to the regression (`_network`)."""
        planes = luma_n, _, mask_n, boundary_n = self._net_planes(luma, hints, side)
        inputs = self._tensors(planes)
        with self._lock, torch.no_grad():
            feats = self._backbone(inputs[0])
        points = self._points(hints, luma.shape, luma_n.shape)
        prior = self._hint_free(inputs, feats)
        if not len(points):
            nothing = (np.zeros_like(prior[0]), np.zeros_like(prior[1]), np.zeros_like(prior[0]))
            return planes, points, nothing, prior
        regions = stroke_regions(boundary_n)
        probs = torch.softmax(prior[2][0].float(), 0)
        regressed = regress(feats, luma_n, points, regions, reach=plausibility(probs, points, luma_n.shape))
        rows, cols = points.pixels(*luma_n.shape)
        shift = residual_shift(points, points.ab - prior[0][rows, cols], luma_n.shape, regions)
        net, entropy, logits = self._network(inputs, feats, starting_answer(*regressed))
        if regions is not None and mask_n.any():
            # A region that strokes close off and that holds no point of its own is colored as
            # if the points beyond its strokes did not exist: a point never crosses a stroke.
            orphan = (regions > 0) & ~np.isin(regions, np.unique(regions[mask_n > 0]))
            net = np.where(orphan[..., None], prior[0], net)
            entropy = np.where(orphan, prior[1], entropy)
        return planes, points, (*regressed, shift), (net, entropy, logits)

    def _guidance(self, unsure: np.ndarray, points: Points, logits: torch.Tensor, luma: np.ndarray) -> Guidance:
        """Guidance from the uncertainty HxW at the network's size (points at that size too)."""
        h, w = unsure.shape
        side = max(h, w)
        size = max(1, round(side * NEXT_REGION))
        region = cv2.blur(unsure, (size,) * 2)
        edge = min(size // 2, (min(h, w) - 1) // 2)  # a region's centre, not the frame's edge
        if edge:
            region[:edge], region[h - edge:], region[:, :edge], region[:, w - edge:] = -1, -1, -1, -1
        if len(points):  # not where a point already is
            ys, xs = np.mgrid[0:h, 0:w]
            near = np.zeros((h, w), bool)
            for x, y in points.xy:
                near |= (xs - x) ** 2 + (ys - y) ** 2 < (side * NEXT_CLEARANCE) ** 2
            region = np.where(near, -1.0, region)
        y, x = np.unravel_index(int(np.argmax(region)), region.shape)
        heat = np.round(np.clip(unsure, 0, 1) * 255).astype(np.uint8)
        if region[y, x] < 0:
            return Guidance(heat, None, [])
        src_h, src_w = luma.shape
        at = (round(float(np.clip((x + 0.5) * src_w / w - 0.5, 0, src_w - 1)), 1),
              round(float(np.clip((y + 0.5) * src_h / h - 0.5, 0, src_h - 1)), 1))
        return Guidance(heat, at, self._likely_colors(logits, luma, *at, k=5))

    def _network(self, inputs, feats, start=None):
        """(a/b HxWx2, normalized entropy HxW of the a/b-bin distribution) at the inputs' size,
        and the bin logits (1, bins, H/4, W/4); start: `regress.starting_answer`, or None for the
        network without points (`KeyframeNet.without_points`: the inputs' hint planes unused)."""
        with self._lock, torch.no_grad():
            if start is None:
                ab, _, logits = self.model.without_points(inputs[0], inputs[3], feats)
            else:
                start = tuple(t.to(self.device) for t in start)
                ab, _, logits = self.model(*inputs, with_logits=True, feats=feats, start=start)
            log_p = torch.log_softmax(logits.float(), 1)
            entropy = -(log_p.exp() * log_p).sum(1, keepdim=True) / np.log(logits.shape[1])
            entropy = torch.nn.functional.interpolate(entropy, size=ab.shape[-2:], mode="bilinear", align_corners=False)
        return ab[0].permute(1, 2, 0).cpu().numpy(), entropy[0, 0].cpu().numpy(), logits

    @staticmethod
    def _points(hints: Hints, source_hw, size_hw) -> Points:
        (src_h, src_w), (h, w) = source_hw, size_hw
        xy = np.array([[(p.x + 0.5) * w / src_w - 0.5, (p.y + 0.5) * h / src_h - 0.5] for p in hints.points],
                      np.float32).reshape(-1, 2)
        ab = np.array([raster.hint_ab(p.color) for p in hints.points], np.float32).reshape(-1, 2)
        return Points(xy, ab)

    def _affinity(self, luma: np.ndarray, boundary: np.ndarray) -> Affinity:
        """The solve's affinities depend on the luma and strokes alone: a hint edit reuses them."""
        digest = hashlib.blake2b(luma.tobytes() + boundary.tobytes(), digest_size=16).digest()
        key, affinity = self._affinities
        if key != digest:
            affinity = Affinity(luma, boundary)
            self._affinities = (digest, affinity)
        return affinity

    @staticmethod
    def _net_planes(luma: np.ndarray, hints: Hints, side: int):
        """(luma HxW, hint a/b HxWx2, mask HxW, boundary HxW) float32 at the network's size."""
        h, w = luma.shape
        nh, nw = color.working_size(h, w, side)
        luma_n = cv2.resize(luma, (nw, nh), interpolation=cv2.INTER_AREA).astype(np.float32)
        hint_n, mask_n = raster.point_planes(hints, (h, w), (nh, nw))
        return luma_n, hint_n, mask_n, raster.boundary_plane(hints, (h, w), (nh, nw))

    def _tensors(self, planes):
        """The network's (1,C,H,W) inputs from HxW / HxWxC planes."""
        t = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).to(self.device)
        return tuple((t(a)[None, None] if a.ndim == 2 else t(a).permute(2, 0, 1)[None]) for a in planes)

    def _hint_free(self, inputs, feats):
        """The network's answer without points (`_network`) for the frame and its strokes: the
        colors where no point reaches and the prior the points' plausibility is judged by.
        Depends on the frame and strokes alone: a hint edit reuses it."""
        luma_t, _, _, boundary_t = inputs
        digest = hashlib.blake2b(luma_t.cpu().numpy().tobytes() + boundary_t.cpu().numpy().tobytes(),
                                 digest_size=16).digest()
        key, answer = self._priors
        if key != digest:
            answer = self._network(inputs, feats)
            self._priors = (digest, answer)
        return answer

    def _backbone(self, luma_t: torch.Tensor):
        """Backbone features depend on the luma alone: the live preview edits hints on one keyframe."""
        digest = hashlib.blake2b(luma_t.cpu().numpy().tobytes(), digest_size=16).digest()
        key, feats = self._features
        if key != digest:
            feats = self.model.backbone(luma_t)
            self._features = (digest, feats)
        return feats
