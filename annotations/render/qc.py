"""Quality checks run on every render and stored with it.

- luma: the output's Rec. 709 luma against the source's, max difference per frame in 8-bit
  code values (the engines never alter luma, so this should stay below half a code value);
- legal range: the samples of the encoded deliverables, read back with the decoder, against
  broadcast-safe levels (8-bit Y' 16-235 / Cb Cr 16-240; 10-bit 64-940 / 64-960), with the
  EBU R 103 tolerance for codec overshoot (`strict_pass` says whether none at all is outside);
- flicker: the temporal warping error of the chroma (as in Lai et al. 2018): frame t-1's a*b*
  carried to frame t along the optical flow of the luma, compared with frame t's own, as a mean
  CIE a*b* distance over the pixels the flow explains (where the warped luma matches). Motion
  does not count, only color that changes on its own: what a viewer sees as flicker. The
  default limit (8) passes smooth propagation (typically 1-6 on textured footage) and fails
  color that jumps between frames (12 and more);
- appearance: what a person sees wrong in propagated color (`inference.propagation.quality`):
  chroma crossing edges the luma does not have, straight block edges in the chroma, chroma
  fading against the nearest keyframes. Frames over a threshold are listed; they make the
  verdict "attention" (look before delivering), not a failure;
- confidence: how sure the propagation was of each frame's chroma (its per-pixel confidence maps,
  stored with the render): the mean, and the share of the frame below LOW_CONFIDENCE. Reported,
  not judged: it says where another keyframe would help most.

`summary()["verdict"]`: "failed" (a hard limit broken, decided by the caller's `passed`),
"attention" (frames flagged) or "passed".
"""
from __future__ import annotations

import threading
from pathlib import Path

import av
import cv2
import numpy as np
from django.conf import settings

from inference.color import as_float, rgb_to_lab, to_luma
from inference.propagation import LOW_CONFIDENCE, quality

LEGAL = {8: ((16, 235), (16, 240)), 10: ((64, 940), (64, 960))}
FLICKER_SIDE = 256
MATCHED_LUMA = 3 / 255  # warped luma this close: the flow explains the pixel (not an occlusion)


def limits() -> dict:
    return {"luma_max_diff": getattr(settings, "COLORPROJ_QC_LUMA_MAX_DIFF", 0.5),
            "flicker_max": getattr(settings, "COLORPROJ_QC_FLICKER_MAX", 8.0)}


class FrameChecks:
    """Per-frame figures, accumulated while the joined frames stream past once."""

    def __init__(self, keyframe_indices=()):
        self.keyframes = [int(k) for k in keyframe_indices]
        self.appearance: dict[int, tuple[float, float, float]] = {}
        self.luma_diff: list[float] = []
        self.flicker: list[float | None] = []
        self.confidence: dict[int, np.ndarray] = {}
        self._previous = None

    def add_confidence(self, index: int, confidence_map: np.ndarray) -> None:
        """Frame `index`'s confidence map: uint8 HxW, 255 for sure (pipeline.confidence_name)."""
        self.confidence[index] = confidence_map

    def confidence_report(self) -> dict:
        """Per frame (0-based shot index order): mean confidence 0..1 and share below LOW_CONFIDENCE;
        the five least sure frames. Empty for a render whose stretches stored no maps."""
        if not self.confidence:
            return {}
        frames = sorted(self.confidence)
        maps = [self.confidence[index].astype(np.float32) / 255 for index in frames]
        means = [round(float(m.mean()), 4) for m in maps]
        return {"frames": frames, "mean_per_frame": means,
                "low_per_frame": [round(float((m < LOW_CONFIDENCE).mean()), 4) for m in maps],
                "mean": round(float(np.mean(means)), 4), "low_threshold": LOW_CONFIDENCE,
                "least_sure": [frames[i] for i in np.argsort(means, kind="stable")[:5]]}

    def add(self, output: np.ndarray, source_luma: np.ndarray) -> None:
        out_luma = to_luma(output)
        self.appearance[len(self.luma_diff)] = quality.measure(output)
        self.luma_diff.append(round(float(np.abs(out_luma - source_luma).max()) * 255, 4))
        height, width = out_luma.shape
        scale = min(1.0, FLICKER_SIDE / max(height, width))
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        small = cv2.resize(as_float(output), size, interpolation=cv2.INTER_AREA)
        current = (to_luma(small), rgb_to_lab(small)[..., 1:])
        if self._previous is not None:
            self.flicker.append(warping_error(self._previous, current))
        self._previous = current

    def appearance_report(self) -> dict:
        """Flagged frames (0-based shot indices) and each frame's measures; empty without keyframes."""
        if not self.keyframes or not set(self.keyframes) & set(self.appearance):
            return {"flagged": [], "per_frame": [], "pass": True}
        report = quality.judge(self.appearance, self.keyframes)
        return {"flagged": report.flagged, "per_frame": [f.as_dict() for f in report.frames],
                "limits": {"crossing_max": quality.MAX_CROSSING, "blocks_max": quality.MAX_BLOCKS,
                           "strength_min": quality.MIN_STRENGTH},
                "pass": not report.flagged}

    def summary(self) -> dict:
        bounds = limits()
        flicker = [f for f in self.flicker if f is not None]
        luma_max = max(self.luma_diff) if self.luma_diff else 0.0
        flicker_max = max(flicker) if flicker else 0.0
        return {
            "luma": {"max_diff_per_frame": self.luma_diff, "max_diff": luma_max, "limit": bounds["luma_max_diff"],
                     "unit": "8-bit code values", "pass": luma_max <= bounds["luma_max_diff"]},
            "flicker": {"per_frame": self.flicker, "mean": round(float(np.mean(flicker)), 4) if flicker else 0.0,
                        "max": flicker_max, "limit": bounds["flicker_max"], "unit": "mean a*b* warping error",
                        "pass": flicker_max <= bounds["flicker_max"]},
            "appearance": self.appearance_report(),
            "confidence": self.confidence_report(),
        }


_flow = threading.local()


def warping_error(previous: tuple, current: tuple) -> float | None:
    """Mean a*b* distance between frame t and frame t-1 warped onto it (None: no pixel matched)."""
    (luma_0, ab_0), (luma_1, ab_1) = previous, current
    if not hasattr(_flow, "dis"):
        _flow.dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    to_u8 = lambda y: (np.clip(y, 0, 1) * 255 + 0.5).astype(np.uint8)
    flow = _flow.dis.calc(to_u8(luma_1), to_u8(luma_0), None)  # where each pixel of t was in t-1
    height, width = luma_1.shape
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    map_x, map_y = grid_x + flow[..., 0], grid_y + flow[..., 1]
    warp = lambda image: cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    inside = (map_x >= 0) & (map_x <= width - 1) & (map_y >= 0) & (map_y <= height - 1)
    matched = inside & (np.abs(warp(luma_0) - luma_1) < MATCHED_LUMA)
    if not matched.any():
        return None
    distance = np.linalg.norm(warp(ab_0) - ab_1, axis=-1)
    return round(float(distance[matched].mean()), 4)


def _plane(plane, itemsize: int) -> np.ndarray:
    dtype = np.uint8 if itemsize == 1 else np.dtype("<u2")
    rows = np.frombuffer(plane, dtype).reshape(plane.height, plane.line_size // itemsize)
    return rows[:, : plane.width]


def legal_range(path: str | Path) -> dict:
    """Decode a Y'CbCr deliverable and count samples outside broadcast-safe levels."""
    y_lo = c_lo = 1 << 16
    y_hi = c_hi = outside = total = 0
    bits = 8
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            bits = max(c.bits for c in frame.format.components)
            (ylim, clim) = LEGAL[10 if bits > 8 else 8]
            itemsize = 2 if bits > 8 else 1
            for number, plane in enumerate(frame.planes[:3]):
                values = _plane(plane, itemsize)
                lo, hi = (ylim if number == 0 else clim)
                outside += int(((values < lo) | (values > hi)).sum())
                total += values.size
                if number == 0:
                    y_lo, y_hi = min(y_lo, int(values.min())), max(y_hi, int(values.max()))
                else:
                    c_lo, c_hi = min(c_lo, int(values.min())), max(c_hi, int(values.max()))
    (ylim, clim) = LEGAL[10 if bits > 8 else 8]
    # EBU R 103 tolerance: lossy codecs ring a little past nominal levels at hard edges; up to 1 %
    # of samples may, as long as none leaves -1 % .. +103 % of the nominal range.
    within = all(lo - 0.01 * (hi - lo) <= value <= hi + 0.03 * (hi - lo)
                 for (lo, hi), values in ((ylim, (y_lo, y_hi)), (clim, (c_lo, c_hi))) for value in values)
    return {"bits": bits, "y": [y_lo, y_hi], "c": [c_lo, c_hi], "legal_y": list(ylim), "legal_c": list(clim),
            "samples_outside": outside, "samples": total, "strict_pass": outside == 0,
            "pass": within and outside <= 0.01 * max(total, 1)}


def verdict(report: dict) -> str:
    """"failed", "attention" or "passed" for a summary whose hard checks are decided in `passed`."""
    if not report["passed"]:
        return "failed"
    return "attention" if report.get("appearance", {}).get("flagged") else "passed"
