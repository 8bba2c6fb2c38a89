"""Synthetic monochrome footage made on the spot (nothing downloaded): demo data and tests."""
from __future__ import annotations

import numpy as np


def synthetic_reel(width: int = 320, height: int = 240, frame_count: int = 48, scenes: int = 2,
                   color_encoded: bool = True) -> list[np.ndarray]:
    """Frames of a gray reel with `scenes` visually distinct scenes and some motion in each.

    Scene k has its own background gradient and a bright disc moving across it. Frames are
    uint8 RGB with R = G = B (color-encoded monochrome, like most scans) or HxW gray.
    """
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    frames = []
    per_scene = max(1, frame_count // scenes)
    for index in range(frame_count):
        scene = min(index // per_scene, scenes - 1)
        t = (index - scene * per_scene) / max(per_scene - 1, 1)
        angle = scene * 2.1
        ramp = (np.cos(angle) * xx / width + np.sin(angle) * yy / height) % 1.0
        base = 40 + 60 * scene % 140 + 90 * ramp
        cx, cy = width * (0.2 + 0.6 * t), height * (0.35 + 0.3 * (scene % 2))
        disc = ((xx - cx) ** 2 + (yy - cy) ** 2) < (min(width, height) * 0.12) ** 2
        image = np.where(disc, 235.0, base)
        image += 6 * np.sin(xx / 7.0 + index) * np.cos(yy / 5.0)  # texture so motion is visible
        gray = np.clip(image, 0, 255).astype(np.uint8)
        frames.append(np.repeat(gray[..., None], 3, axis=2) if color_encoded else gray)
    return frames
