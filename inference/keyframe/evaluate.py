"""Evaluation of the keyframe engine against the classical method on held-back images.

Protocol: each image is resized (short side) and centre-cropped to size x size, reduced
to luma, and given n simulated color points (5x5 patches, the patch's mean color,
centres from a Gaussian around the image centre; the same points for both methods).
Metrics: PSNR (RGB, 8-bit), mean CIEDE2000, mean a/b error at hinted pixels, and
colorfulness (Hasler and Suesstrunk 2003) relative to the ground truth.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from skimage.color import deltaE_ciede2000, rgb2lab

from inference import color
from inference.hints import ColorPoint, Hints
from inference.metrics import psnr
from inference.keyframe import data
from inference.keyframe.engine import KeyframeColorizer
from inference.keyframe.raster import point_planes


def patch_point(rgb: np.ndarray, x: int, y: int, point_id: str, radius: int = 2) -> ColorPoint:
    """A color point at pixel (x, y) of uint8 RGB HxWx3 with the mean color of its
    (2 radius + 1)-square patch (cut at the frame's edge), as the simulated annotators place them."""
    patch = rgb[max(0, y - radius): y + radius + 1, max(0, x - radius): x + radius + 1]
    mean = patch.reshape(-1, 3).mean(0).round().astype(int)
    return ColorPoint(float(x), float(y), tuple(int(v) for v in mean), radius, point_id)


def simulated_hints(rng: np.random.Generator, rgb: np.ndarray, n: int) -> Hints:
    h, w = rgb.shape[:2]
    ys, xs, _ = data.sample_points(rng, h, w, n, sizes=(5, 5))
    return Hints(tuple(patch_point(rgb, int(np.clip(x, 2, w - 3)), int(np.clip(y, 2, h - 3)), f"p{i}")
                       for i, (y, x) in enumerate(zip(ys, xs))))


def colorfulness(rgb: np.ndarray) -> float:
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def hint_error(out: np.ndarray, hints: Hints) -> list[float]:
    if not hints.points:
        return []
    hint_ab, mask = point_planes(hints, out.shape[:2])
    ab = color.rgb_to_lab(out)[..., 1:]
    return np.linalg.norm(ab - hint_ab, axis=-1)[mask > 0].tolist()


def evaluation_images(folder: Path, split: str, limit: int) -> list[Path]:
    """Sorted images of `folder` (validation file names only unless split is "all"), at most
    `limit` (0: all). Raises ValueError when the folder is missing or holds none."""
    if not folder.is_dir():
        raise ValueError(f"{folder}: not a folder")
    paths = [p for p in sorted(folder.iterdir()) if p.suffix.lower() in data.IMAGE_EXTS
             and (split == "all" or data.is_validation(p.name))]
    paths = paths[:limit] if limit else paths
    if not paths:
        raise ValueError(f"{folder}: no evaluation images")
    return paths


def evaluate(folder: Path, size: int, counts: list[int], split: str, limit: int, methods: list[str],
             plot: Path, device: str = "cpu") -> int:
    try:
        paths = evaluation_images(folder, split, limit)
    except ValueError as exc:
        print(f"colorproj: error: {exc}", file=sys.stderr)
        return 2
    engine = KeyframeColorizer.load(device=device) if "cnn" in methods else KeyframeColorizer.levin_only()
    stats = {(m, n): {"psnr": [], "de": [], "hint": [], "cf": [], "cf_gt": [], "s": []} for m in methods for n in counts}
    started = time.time()
    for i, path in enumerate(paths):
        rgb = data.square(data.read_rgb(path), size)
        gray = color.to_uint8(color.to_luma(rgb))
        lab_gt, colorfulness_gt = rgb2lab(rgb), colorfulness(rgb)
        for n in counts:
            hints = simulated_hints(np.random.default_rng([i, n]), rgb, n)
            for m in methods:
                t = time.perf_counter()
                out = engine.colorize(gray, hints, method=m, long_side=size)
                s = stats[(m, n)]
                s["s"].append(time.perf_counter() - t)
                s["psnr"].append(psnr(out, rgb))
                s["de"].append(float(deltaE_ciede2000(lab_gt, rgb2lab(out)).mean()))
                s["hint"].extend(hint_error(out, hints))
                s["cf"].append(colorfulness(out))
                s["cf_gt"].append(colorfulness_gt)
        print(f"\revaluated {i + 1}/{len(paths)} images ({time.time() - started:.0f} s)", end="", file=sys.stderr,
              flush=True)
    print(file=sys.stderr)
    print(f"{len(paths)} images from {folder} ({split} split), {size}x{size}, 5x5 color points")
    print(f"{'method':<7}{'hints':>6}{'PSNR dB':>9}{'CIEDE2000':>11}{'hint a/b err':>14}{'colorful %':>12}{'ms':>8}")
    table = {}
    for n in counts:
        for m in methods:
            s = stats[(m, n)]
            row = (float(np.mean(s["psnr"])), float(np.mean(s["de"])),
                   float(np.mean(s["hint"])) if s["hint"] else float("nan"),
                   100 * float(np.sum(s["cf"]) / max(np.sum(s["cf_gt"]), 1e-9)), 1000 * float(np.mean(s["s"])))
            table[(m, n)] = row
            hint = "-" if np.isnan(row[2]) else f"{row[2]:.2f}"
            print(f"{m:<7}{n:>6}{row[0]:>9.2f}{row[1]:>11.2f}{hint:>14}{row[3]:>12.1f}{row[4]:>8.0f}")
    _plot(table, methods, counts, plot, len(paths), size)
    print(f"plot: {plot}")
    return 0


def _plot(table, methods, counts, path: Path, n_images: int, size: int):
    import matplotlib  # only where a plot is drawn: it is slow to import

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    xs = [max(n, 0.5) for n in counts]  # 0 hints drawn at 0.5 on the log axis
    for m, label in (("cnn", "keyframe engine"), ("levin", "Levin et al. 2004")):
        if m in methods:
            ax.plot(xs, [table[(m, n)][0] for n in counts], marker="o", label=label)
    ax.set_xscale("log")
    ax.set_xticks(xs, [str(n) for n in counts])
    ax.set_xlabel("color points (5x5)"), ax.set_ylabel("PSNR (dB, RGB)")
    ax.set_title(f"{n_images} held-out images, {size}x{size}")
    ax.grid(alpha=0.3), ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
