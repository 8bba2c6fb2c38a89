"""Training data: a fixed validation split, a packed downscaled image set, and the
simulated user hints (color points and boundary strokes) of the training recipe.
"""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import cv2
import numpy as np

from inference import color
from inference.keyframe.regress import Points
from inference.media import probe, read_frames

log = logging.getLogger(__name__)

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
VIDEO_EXTS = {".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v"}
PACK_SIDE = 256
FRAMES_PER_VIDEO = 12


def is_validation(name: str) -> bool:
    """Fixed split: one file name in ten (by SHA-1) is held out for validation."""
    return int(hashlib.sha1(Path(name).name.encode()).hexdigest(), 16) % 10 == 0


def square(rgb: np.ndarray, side: int) -> np.ndarray:
    """Resize the short side to `side` and centre-crop to side x side."""
    h, w = rgb.shape[:2]
    scale = side / min(h, w)
    nh, nw = max(side, round(h * scale)), max(side, round(w * scale))
    rgb = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    y, x = (nh - side) // 2, (nw - side) // 2
    return rgb[y : y + side, x : x + side]


def read_rgb(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"{path}: not a readable image")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def list_sources(folders, validation: bool):
    files = []
    for folder in folders:
        for path in sorted(Path(folder).iterdir()):
            ext = path.suffix.lower()
            if (ext in IMAGE_EXTS or ext in VIDEO_EXTS) and is_validation(path.name) == validation:
                files.append(path)
    return files


def _video_frames(path: Path, count: int):
    total = max(1, probe(path).frame_count or 150)
    wanted = set(np.linspace(0, total - 1, count).round().astype(int).tolist())
    for i, frame in enumerate(read_frames(path)):
        if i in wanted:
            yield frame
        if i > max(wanted):
            break


def pack(folders, out: Path, validation: bool = False, side: int = PACK_SIDE) -> np.ndarray:
    """Pack photos and sampled video frames into one uint8 (N, side, side, 3) .npy."""
    if out.exists():
        return np.load(out, mmap_mode="r")
    images = []
    sources = list_sources(folders, validation)
    for i, path in enumerate(sources):
        try:
            if path.suffix.lower() in VIDEO_EXTS:
                images.extend(square(f, side) for f in _video_frames(path, FRAMES_PER_VIDEO))
            else:
                images.append(square(read_rgb(path), side))
        except Exception as exc:  # a bad file must not stop packing
            log.warning("skipping %s: %s", path, exc)
        if i % 200 == 0:
            log.info("packing %d/%d files, %d images", i, len(sources), len(images))
    out.parent.mkdir(parents=True, exist_ok=True)
    array = np.stack(images)
    tmp = out.with_suffix(".tmp.npy")
    np.save(tmp, array)
    tmp.rename(out)
    log.info("packed %d images into %s", len(array), out)
    return np.load(out, mmap_mode="r")


# --- hint simulation -------------------------------------------------------------------------------

def sample_points(rng: np.random.Generator, h: int, w: int, n: int, sizes=(1, 9)):
    """n patch centres from a Gaussian around the image centre, and patch sides."""
    ys = np.clip(rng.normal(h / 2, h / 4, n), 0, h - 1).astype(int)
    xs = np.clip(rng.normal(w / 2, w / 4, n), 0, w - 1).astype(int)
    lo, hi = sizes
    side = rng.integers(lo, hi + 1, n)
    return ys, xs, side


def point_hints(ab: np.ndarray, ys, xs, sides):
    """Hint planes from patches: each patch gets its ground-truth mean a/b."""
    h, w = ab.shape[:2]
    hint = np.zeros((h, w, 2), np.float32)
    mask = np.zeros((h, w), np.float32)
    for y, x, s in zip(ys, xs, sides):
        r0, r1 = s // 2, s - s // 2
        y0, y1, x0, x1 = max(0, y - r0), min(h, y + r1), max(0, x - r0), min(w, x + r1)
        hint[y0:y1, x0:x1] = ab[y0:y1, x0:x1].reshape(-1, 2).mean(0)
        mask[y0:y1, x0:x1] = 1.0
    return hint, mask


def hint_points(hint: np.ndarray, ys, xs) -> Points:
    """The color points of simulated patches: their centres and the a/b the hint planes hold there."""
    ys, xs = np.asarray(ys, int), np.asarray(xs, int)
    return Points(np.stack([xs, ys], -1).astype(np.float32).reshape(-1, 2), hint[ys, xs].reshape(-1, 2))


def hint_count(rng: np.random.Generator) -> int:
    """Mostly geometric (p = 1/8) as in the literature, with a log-uniform tail to 200."""
    u = rng.random()
    if u < 0.1:
        return 0
    if u < 0.65:
        return int(rng.geometric(1 / 8))
    return int(round(np.exp(rng.uniform(0, np.log(200)))))


def simulated_strokes(rng: np.random.Generator, ab: np.ndarray, max_strokes: int = 4) -> np.ndarray:
    """Boundary map from real chroma edges: a few connected chroma-edge segments."""
    h, w = ab.shape[:2]
    smooth = cv2.GaussianBlur(ab, (0, 0), 1.5)
    chroma = np.clip(smooth * 1.5 + 128, 0, 255).astype(np.uint8)
    edges = cv2.Canny(chroma[..., 0], 40, 90) | cv2.Canny(chroma[..., 1], 40, 90)
    count, labels, stats, _ = cv2.connectedComponentsWithStats((edges > 0).astype(np.uint8), connectivity=8)
    long_ones = [i for i in range(1, count) if stats[i, cv2.CC_STAT_AREA] >= 15]
    boundary = np.zeros((h, w), np.uint8)
    if not long_ones:
        return boundary.astype(np.float32)
    chosen = rng.choice(long_ones, size=min(len(long_ones), int(rng.integers(1, max_strokes + 1))), replace=False)
    boundary[np.isin(labels, chosen)] = 1
    width = int(rng.integers(1, 4))
    if width > 1:
        boundary = cv2.dilate(boundary, np.ones((width, width), np.uint8))
    return boundary.astype(np.float32)


def training_sample(rng: np.random.Generator, rgb: np.ndarray):
    """uint8 RGB -> (luma HxW, ab HxWx2, hint ab HxWx2, mask HxW, boundary HxW) float32, and
    the hints as color points (`Points`)."""
    h, w = rgb.shape[:2]
    rgb = np.ascontiguousarray(rgb)
    ab = color.rgb_to_lab(rgb)[..., 1:]
    luma = color.to_luma(rgb)
    ys, xs, sides = sample_points(rng, h, w, hint_count(rng))
    hint, mask = point_hints(ab, ys, xs, sides)
    boundary = simulated_strokes(rng, ab) if rng.random() < 0.35 else np.zeros((h, w), np.float32)
    return (luma, ab, hint, mask, boundary), hint_points(hint, ys, xs)


def eval_hints(rng: np.random.Generator, ab: np.ndarray, n: int):
    """The evaluation protocol's hints: n 5x5 patches from a Gaussian around the centre."""
    h, w = ab.shape[:2]
    ys, xs, sides = sample_points(rng, h, w, n, sizes=(5, 5))
    return point_hints(ab, ys, xs, sides)
