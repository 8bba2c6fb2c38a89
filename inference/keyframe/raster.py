"""Rasterization of validated hints (inference.hints.Hints) into the planes the
engines consume: hint a/b + mask (color points) and a boundary map (strokes).

A color point fills a square of side 2*radius+1 with the chroma (CIE a/b) of its
sRGB color; the pixel keeps its own lightness. Coordinates are source pixels and
are scaled to the working size, where a patch covers at least one pixel and a
stroke at least two, so 4-connected propagation cannot slip through it.
"""
from __future__ import annotations

import cv2
import numpy as np

from inference import color
from inference.hints import Hints


def hint_ab(rgb: tuple[int, int, int]) -> np.ndarray:
    """CIE a/b of an sRGB color."""
    return color.rgb_to_lab(np.array([[rgb]], np.uint8))[0, 0, 1:]


def point_planes(hints: Hints, source_hw: tuple[int, int], size_hw: tuple[int, int] | None = None):
    """(ab HxWx2 float32, mask HxW float32) at `size_hw` (default: the source size)."""
    src_h, src_w = source_hw
    h, w = size_hw or source_hw
    sy, sx = h / src_h, w / src_w
    ab = np.zeros((h, w, 2), np.float32)
    mask = np.zeros((h, w), np.float32)
    for p in hints.points:
        # Patch edges in source pixels, mapped to the target grid (at least one pixel).
        y0, y1 = (p.y - p.radius - 0.5) * sy, (p.y + p.radius + 0.5) * sy
        x0, x1 = (p.x - p.radius - 0.5) * sx, (p.x + p.radius + 0.5) * sx
        r0, c0 = int(np.clip(np.floor(y0 + 0.5), 0, h - 1)), int(np.clip(np.floor(x0 + 0.5), 0, w - 1))
        r1, c1 = max(r0 + 1, min(h, int(np.floor(y1 + 0.5)))), max(c0 + 1, min(w, int(np.floor(x1 + 0.5))))
        ab[r0:r1, c0:c1] = hint_ab(p.color)
        mask[r0:r1, c0:c1] = 1.0
    return ab, mask


def boundary_plane(hints: Hints, source_hw: tuple[int, int], size_hw: tuple[int, int] | None = None,
                   min_width: int = 2) -> np.ndarray:
    """HxW float32 map, 1 on the strokes (drawn with their width, scaled)."""
    src_h, src_w = source_hw
    h, w = size_hw or source_hw
    scale = np.array([w / src_w, h / src_h])
    out = np.zeros((h, w), np.uint8)
    shift = 4  # sub-pixel precision for cv2 drawing
    for stroke in hints.strokes:
        pts = ((np.array(stroke.points) + 0.5) * scale - 0.5) * (1 << shift)
        thickness = max(min_width, int(round(stroke.width * min(scale))))
        cv2.polylines(out, [pts.round().astype(np.int32)], False, 1, thickness, cv2.LINE_8, shift)
    return out.astype(np.float32)
