"""KeyframeColorizer: the keyframe engine's public face.

    engine = KeyframeColorizer.load(device="cpu")          # weights load once
    rgb = engine.colorize(image, hints, method="cnn", long_side=512)
    engine.suggest(image, hints, x, y, k=5)                  # [('#rrggbb', p), ...]

Resolutions: hints and strokes are rasterized at the working size (long side
`long_side`); the network itself always sees the keyframe at a long side of 256, the
size it was trained at, and its correction of the edge-aware propagation is brought to
the working size with luma-guided upsampling; the result goes to the source size the
same way, hinted pixels are set exactly, and the source luma is kept exactly.
"""
from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import cv2
import numpy as np
import torch

from inference import color, levin
from inference.hints import Hints
from inference.keyframe import raster
from inference.keyframe.bins import ab_bins
from inference.keyframe.model import KeyframeNet
from inference.keyframe.propagate import propagate

WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "keyframe.pt"
NET_SIDE = 256
METHODS = ("cnn", "levin")


class KeyframeColorizer:
    def __init__(self, model: KeyframeNet | None, device: str = "cpu", meta: dict | None = None):
        self.model = model.to(device).eval() if model is not None else None
        self.device = device
        self.meta = meta or {}
        self._lock = threading.Lock()
        self._features = (None, None)  # (luma digest, backbone features): previews reuse them

    @classmethod
    def load(cls, device: str = "cpu", weights: Path | str = WEIGHTS) -> "KeyframeColorizer":
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise RuntimeError("device 'cuda' requested but no CUDA GPU is available")
        blob = torch.load(Path(weights), map_location="cpu", weights_only=True)
        model = KeyframeNet()
        missing, unexpected = model.load_state_dict({k: v.float() for k, v in blob["state"].items()}, strict=False)
        if unexpected or any(not k.startswith("backbone.") for k in missing):
            raise RuntimeError(f"{weights}: weights do not match the keyframe network")
        return cls(model, device, blob.get("meta"))

    @classmethod
    def levin_only(cls) -> "KeyframeColorizer":
        """An engine for the classical method alone (no weights needed)."""
        return cls(None)

    # --- public API ---------------------------------------------------------------------------

    def colorize(self, image: np.ndarray, hints: Hints | None = None, method: str = "cnn",
                 long_side: int = 512) -> np.ndarray:
        """uint8 gray HxW or RGB HxWx3 -> uint8 RGB HxWx3 with the input's luma."""
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}: expected one of {', '.join(METHODS)}")
        if method == "cnn" and self.model is None:
            raise RuntimeError("this engine was created without network weights; use method='levin'")
        hints = hints or Hints()
        luma = color.to_luma(image)
        ab = self.working_ab(luma, hints, method, long_side)
        if ab.shape[:2] != luma.shape:
            ab = color.guided_upsample(luma, ab)
        hint_ab, mask = raster.point_planes(hints, luma.shape)
        ab = np.where(mask[..., None] > 0, hint_ab, ab)
        return color.to_uint8(color.compose_lab(luma, ab))

    def suggest(self, image: np.ndarray, hints: Hints | None, x: float, y: float, k: int = 5,
                long_side: int = 512) -> list[tuple[str, float]]:
        """Top-k likely colors at source pixel (x, y) from the network's a/b-bin distribution."""
        luma = color.to_luma(image)
        h, w = luma.shape
        if not (0 <= x <= w - 1 and 0 <= y <= h - 1):
            raise ValueError(f"({x:g}, {y:g}) is outside the {w}x{h} image")
        inputs, size = self._net_inputs(luma, hints or Hints(), min(long_side, NET_SIDE))
        with self._lock, torch.no_grad():
            _, _, logits = self.model(*inputs, with_logits=True, feats=self._backbone(inputs[0]))
        lh, lw = logits.shape[-2:]
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
        h, w = luma.shape
        wh, ww = color.working_size(h, w, min(long_side, max(h, w)))
        luma_w = cv2.resize(luma, (ww, wh), interpolation=cv2.INTER_AREA)
        hint_w, mask_w = raster.point_planes(hints, (h, w), (wh, ww))
        boundary_w = raster.boundary_plane(hints, (h, w), (wh, ww))
        if method == "levin":
            return levin.colorize_ab(luma_w, hint_w, mask_w, boundary_w)
        out = self._network_ab(luma, luma_w, hints, hint_w, mask_w, boundary_w, long_side)
        if boundary_w.any():
            # A region that strokes close off and that holds no hint of its own is colored as
            # if the hints beyond its strokes did not exist: a hint never crosses a stroke.
            _, labels = cv2.connectedComponents((boundary_w == 0).astype(np.uint8), connectivity=4)
            orphan = (labels > 0) & ~np.isin(labels, np.unique(labels[mask_w > 0]))
            if orphan.any() and mask_w.any():
                free = self._network_ab(luma, luma_w, Hints((), hints.strokes), np.zeros_like(hint_w),
                                        np.zeros_like(mask_w), boundary_w, long_side)
                out = np.where(orphan[..., None], free, out)
        return out

    def _network_ab(self, luma, luma_w, hints, hint_w, mask_w, boundary_w, long_side):
        wh, ww = luma_w.shape
        inputs, (nh, nw) = self._net_inputs(luma, hints, min(long_side, NET_SIDE))
        with self._lock, torch.no_grad():
            ab, prop, _ = self.model(*inputs, feats=self._backbone(inputs[0]))
        correction = (ab - prop)[0].permute(1, 2, 0).cpu().numpy()
        if (nh, nw) == (wh, ww):
            out = ab[0].permute(1, 2, 0).cpu().numpy()
        else:
            t = lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(self.device)[None]
            prop_w, _ = propagate(t(luma_w)[:, None], t(hint_w).permute(0, 3, 1, 2), t(mask_w)[:, None],
                                  t(boundary_w)[:, None])
            out = prop_w[0].permute(1, 2, 0).cpu().numpy() + color.guided_upsample(luma_w, correction)
        return np.where(mask_w[..., None] > 0, hint_w, out).astype(np.float32)

    def _net_inputs(self, luma: np.ndarray, hints: Hints, side: int):
        h, w = luma.shape
        nh, nw = color.working_size(h, w, side)
        luma_n = cv2.resize(luma, (nw, nh), interpolation=cv2.INTER_AREA)
        hint_n, mask_n = raster.point_planes(hints, (h, w), (nh, nw))
        boundary_n = raster.boundary_plane(hints, (h, w), (nh, nw))
        t = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).to(self.device)[None]
        return (t(luma_n)[:, None], t(hint_n).permute(0, 3, 1, 2), t(mask_n)[:, None], t(boundary_n)[:, None]), (nh, nw)

    def _backbone(self, luma_t: torch.Tensor):
        """Backbone features depend on the luma alone: the live preview edits hints on one keyframe."""
        digest = hashlib.blake2b(luma_t.cpu().numpy().tobytes(), digest_size=16).digest()
        key, feats = self._features
        if key != digest:
            feats = self.model.backbone(luma_t)
            self._features = (digest, feats)
        return feats
