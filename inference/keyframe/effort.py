"""Annotation effort: how many color points a simulated annotator needs to reach a target PSNR.

The annotator of the seed paper's user study, simulated (Zhang et al. 2017, "less effort
than earlier methods"): starting from no points, each round it looks at the current result,
picks `step` places (at least a patch apart, not already hinted) and puts a 5x5 color point
at each with the ground truth's 5x5 patch-mean color, until the image reaches the target
PSNR or the cap on points. Where it looks (`ANNOTATORS`):
- "worst": where the result is most wrong (largest 5x5 mean RGB error): an annotator who sees
  every error at once, each method driven by its own errors;
- "guided": where the engine says it is least sure (its Guidance map, the studio's "where to
  click next" overlay), without looking at the truth: method "cnn" only;
- "random": anywhere, uniformly: an annotator with no guidance at all.
Images are resized and centre-cropped to size x size as in `evaluate keyframe`.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import cv2
import numpy as np

from inference import color
from inference.hints import ColorPoint, Hints
from inference.keyframe import data
from inference.keyframe.engine import NEXT_CLEARANCE, NEXT_REGION, KeyframeColorizer
from inference.keyframe.evaluate import evaluation_images, patch_point
from inference.metrics import psnr

LABELS = {"cnn": "keyframe engine", "levin": "Levin et al. 2004"}
ANNOTATORS = ("worst", "guided", "random")


def worst_points(out: np.ndarray, truth: np.ndarray, taken: np.ndarray, count: int, radius: int = 2):
    """The `count` 5x5 patches (centres (y, x)) where `out` is furthest from `truth`, each at
    least a patch away from the others and from the `taken` mask (HxW bool, updated)."""
    return peak_points(((out.astype(np.float32) - truth.astype(np.float32)) ** 2).sum(-1), taken, count, radius)


def peak_points(score: np.ndarray, taken: np.ndarray, count: int, radius: int = 2, gap: int | None = None):
    """The `count` 5x5 patches (centres (y, x)) of largest mean `score` (HxW float), each at least
    `gap` pixels (default: a patch's width between patches) from the others and from the `taken`
    mask (HxW bool, updated)."""
    h, w = score.shape
    err = cv2.blur(score.astype(np.float32), (2 * radius + 1,) * 2)
    err[:radius], err[h - radius:], err[:, :radius], err[:, w - radius:] = -1, -1, -1, -1
    # By default centres this far apart leave a patch's width between patches.
    gap = max(gap or 0, 2 * (2 * radius + 1) - 1)
    blocked = cv2.dilate(taken.astype(np.uint8), np.ones((2 * gap - 1,) * 2, np.uint8)) > 0
    err[blocked] = -1
    centres = []
    for _ in range(count):
        y, x = np.unravel_index(int(np.argmax(err)), err.shape)
        if err[y, x] < 0:
            break
        centres.append((int(y), int(x)))
        err[max(0, y - gap + 1): y + gap, max(0, x - gap + 1): x + gap] = -1
        taken[y - radius: y + radius + 1, x - radius: x + radius + 1] = True
    return centres


def annotate(engine, method: str, rgb: np.ndarray, target: float, step: int, cap: int, size: int,
             annotator: str = "worst", seed: int = 0):
    """Rounds of the simulated annotator on one image -> [(points, PSNR dB), ...]."""
    gray = color.to_uint8(color.to_luma(rgb))
    taken = np.zeros(rgb.shape[:2], bool)
    rng = np.random.default_rng(seed)
    points: list[ColorPoint] = []
    curve = []
    while True:
        hints = Hints(tuple(points))
        if annotator == "guided":
            out, guidance = engine.colorize(gray, hints, method=method, long_side=size, guidance=True)
        else:
            out = engine.colorize(gray, hints, method=method, long_side=size)
        score = psnr(out, rgb)
        curve.append((len(points), score))
        if score >= target or len(points) >= cap:
            return curve
        count = min(step, cap - len(points))
        if annotator == "worst":
            centres = worst_points(out, rgb, taken, count)
        elif annotator == "guided":  # the least sure regions, as the studio's "next point" finds them
            side = max(rgb.shape[:2])
            unsure = cv2.resize(guidance.map.astype(np.float32), rgb.shape[1::-1], interpolation=cv2.INTER_LINEAR)
            unsure = cv2.blur(unsure, (max(1, round(side * NEXT_REGION)),) * 2)
            centres = peak_points(unsure, taken, count, gap=round(side * NEXT_CLEARANCE))
        else:
            centres = peak_points(rng.random(rgb.shape[:2], np.float32), taken, count)
        if not centres:
            return curve
        for y, x in centres:
            points.append(patch_point(rgb, x, y, f"p{len(points)}"))


def points_to_reach(curve, target: float) -> float:
    """Points at the first round at or above the target; inf when never reached."""
    return next((float(n) for n, score in curve if score >= target), float("inf"))


def evaluate_effort(folder: Path, target: float, step: int, cap: int, size: int, split: str, limit: int,
                    methods: list[str], plot: Path, device: str = "cpu", annotators=("worst",)) -> int:
    """Print the median points to reach `target` dB and how many images reach it within `cap`,
    for each method and annotator (guided: method cnn only); plot the curves to `plot`."""
    try:
        if step < 1 or cap < 0:
            raise ValueError("--step must be at least 1 and --cap at least 0")
        if set(annotators) - set(ANNOTATORS):
            raise ValueError(f"--annotators: expected some of {', '.join(ANNOTATORS)}, got {', '.join(annotators)}")
        paths = evaluation_images(folder, split, limit)
    except ValueError as exc:
        print(f"colorproj: error: {exc}", file=sys.stderr)
        return 2
    engine = KeyframeColorizer.load(device=device) if "cnn" in methods else KeyframeColorizer.levin_only()
    runs = [(m, a) for a in annotators for m in methods if a != "guided" or m == "cnn"]
    curves = {run: [] for run in runs}
    started = time.time()
    for i, path in enumerate(paths):
        rgb = data.square(data.read_rgb(path), size)
        for m, a in runs:
            curves[m, a].append(annotate(engine, m, rgb, target, step, cap, size, a, seed=i))
        print(f"\rannotated {i + 1}/{len(paths)} images ({time.time() - started:.0f} s)", end="", file=sys.stderr,
              flush=True)
    print(file=sys.stderr)
    print(f"{len(paths)} images from {folder} ({split} split), {size}x{size}; {step} points (5x5) a round, "
          f"until {target:g} dB or {cap} points")
    print(f"{'method':<20}{'annotator':<10}{'median points':>15}{'reached':>10}")
    for m, a in runs:
        needed = [points_to_reach(c, target) for c in curves[m, a]]
        median = float(np.median(needed))
        shown = f">{cap}" if np.isinf(median) else f"{median:g}"
        print(f"{LABELS[m]:<20}{a:<10}{shown:>15}{sum(np.isfinite(needed)):>6}/{len(needed)}")
    _plot(curves, target, step, cap, plot, len(paths), size)
    print(f"plot: {plot}")
    return 0


def _plot(curves, target, step, cap, path: Path, n_images: int, size: int):
    import matplotlib  # only where a plot is drawn: it is slow to import

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = np.arange(0, cap + 1, step)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for (m, a), image_curves in curves.items():
        label = f"{LABELS[m]}, {a}"
        # An image that stopped at the target keeps its last PSNR for the larger counts.
        table = np.array([[next(s for n, s in reversed(c) if n <= k) for k in counts] for c in image_curves])
        left.plot(counts, np.median(table, 0), marker=".", label=label)
        reached = [np.mean([points_to_reach(c, target) <= k for c in image_curves]) * 100 for k in counts]
        right.step(counts, reached, where="post", label=label)
    left.axhline(target, color="gray", lw=0.8, ls="--")
    left.set_xlabel("color points (5x5)"), left.set_ylabel("median PSNR (dB, RGB)")
    left.set_title(f"simulated annotator, {n_images} images, {size}x{size}")
    right.set_xlabel("color points (5x5)"), right.set_ylabel(f"images at {target:g} dB or more (%)")
    right.set_ylim(0, 100)
    for ax in (left, right):
        ax.grid(alpha=0.3), ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
