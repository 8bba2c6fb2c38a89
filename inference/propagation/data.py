"""Training data: video clips and photos moved by synthetic motion, packed at the working resolution.

Packing decodes each clip once, keeps luma and Lab a/b at the working resolution and the
DIS flows (with confidences) between neighbouring frames in both directions, exactly as
the engine computes them; training then builds candidates for any keyframe distance from
these arrays without touching a decoder or the flow estimator. One folder per clip of .npy
files, memory-mapped when training.

The validation split is a fixed hash of the clip's file name (1 clip in 6).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from inference.color import as_float, rgb_to_lab, to_luma, to_uint8, working_size
from inference.media import read_frames

from .flow import MotionEstimator, consistency

ROOT = Path(__file__).resolve().parents[2]
VIDEOS = ROOT.parent / "shared" / "data" / "videos"
PHOTOS = ROOT.parent / "shared" / "data" / "photos"
PACKED = ROOT / ".data" / "propagation"
WORK_LONG_SIDE = 320
SYNTHETIC_SIZE = (192, 256)  # h, w of photo clips
SYNTHETIC_LENGTH = 24
SYNTHETIC_COUNT = 240
ARRAYS = ("luma", "ab", "to_prev", "to_next", "conf_prev", "conf_next")


def is_validation(name: str) -> bool:
    return int(hashlib.sha1(name.encode()).hexdigest(), 16) % 6 == 0


def video_split(videos: Path = VIDEOS) -> tuple[list[Path], list[Path]]:
    """(training, validation) clip paths."""
    paths = sorted(videos.glob("*.mp4"))
    return [p for p in paths if not is_validation(p.name)], [p for p in paths if is_validation(p.name)]


def pack_clip(rgb_frames: list[np.ndarray], folder: Path, work: tuple[int, int] | None = None) -> int:
    """Pack one clip of uint8 RGB frames (full resolution) into `folder`; returns its frame count."""
    height, width = rgb_frames[0].shape[:2]
    work = work or working_size(height, width, min(WORK_LONG_SIDE, max(height, width)), multiple=8)
    size = (work[1], work[0])
    luma = np.stack([cv2.resize(to_luma(f), size, interpolation=cv2.INTER_AREA) for f in rgb_frames])
    ab = np.stack([rgb_to_lab(cv2.resize(as_float(f), size, interpolation=cv2.INTER_AREA))[..., 1:] for f in rgb_frames])
    count = len(rgb_frames)
    flows = {name: np.zeros((count, *work, 2), np.float16) for name in ("to_prev", "to_next")}
    confs = {name: np.zeros((count, *work), np.float16) for name in ("conf_prev", "conf_next")}
    motion = MotionEstimator()
    u8 = to_uint8(luma)
    for i in range(1, count):
        back, fwd = motion.pair(u8[i], u8[i - 1])  # i -> i-1, i-1 -> i
        flows["to_prev"][i], flows["to_next"][i - 1] = back, fwd
        confs["conf_prev"][i], confs["conf_next"][i - 1] = consistency(back, fwd), consistency(fwd, back)
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "luma.npy", luma.astype(np.float32))
    np.save(folder / "ab.npy", ab.astype(np.float16))
    for name, array in {**flows, **confs}.items():
        np.save(folder / f"{name}.npy", array)
    return count


def synthetic_clip(photo: np.ndarray, sprite: np.ndarray, rng: np.random.Generator,
                   size=SYNTHETIC_SIZE, length=SYNTHETIC_LENGTH) -> list[np.ndarray]:
    """A photo seen by a drifting, zooming, turning camera, with a second photo's patch moving across it."""
    height, width = size
    scale = 1.25 * max(height / photo.shape[0], width / photo.shape[1])
    photo = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    ph, pw = photo.shape[:2]
    center = np.array([pw / 2, ph / 2])
    velocity = rng.uniform(-4, 4, 2)
    zoom, spin = rng.uniform(-0.006, 0.006), rng.uniform(-0.6, 0.6)
    radius = min(rng.uniform(20, 50), (min(sprite.shape[:2]) - 4) / 2)
    patch_side = int(2 * radius) + 2
    sy, sx = rng.integers(0, sprite.shape[0] - patch_side + 1), rng.integers(0, sprite.shape[1] - patch_side + 1)
    patch = sprite[sy : sy + patch_side, sx : sx + patch_side]
    mask = np.zeros((patch_side, patch_side), np.float32)
    cv2.ellipse(mask, (patch_side // 2, patch_side // 2), (int(radius), int(radius * rng.uniform(0.5, 1))),
                rng.uniform(0, 180), 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), 1.0)[..., None]
    position = rng.uniform([0, 0], [width - patch_side, height - patch_side])
    sprite_velocity = rng.uniform(-7, 7, 2)
    frames = []
    for t in range(length):
        matrix = cv2.getRotationMatrix2D((float(center[0]), float(center[1])), spin * t, 1 + zoom * t)
        matrix[:, 2] += np.array([width / 2, height / 2]) - center
        frame = cv2.warpAffine(photo, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        x, y = np.clip(position, 0, [width - patch_side, height - patch_side]).astype(int)
        region = frame[y : y + patch_side, x : x + patch_side].astype(np.float32)
        frame[y : y + patch_side, x : x + patch_side] = (region * (1 - mask) + patch * mask + 0.5).astype(np.uint8)
        frames.append(frame)
        velocity += rng.normal(0, 0.5, 2)
        center = np.clip(center + velocity, [width / 2, height / 2], [pw - width / 2, ph - height / 2])
        position += sprite_velocity
    return frames


def _load_rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def pack(out: Path = PACKED, log: Callable[[str], None] = print) -> list[Path]:
    """Pack the training clips and synthetic photo clips (skipping any already packed)."""
    train, _ = video_split()
    folders = []
    for i, path in enumerate(train, 1):
        folder = out / "clips" / path.stem
        if not (folder / "conf_next.npy").exists():
            count = pack_clip(list(read_frames(path)), folder)
            log(f"packed video {i}/{len(train)} {path.name}: {count} frames")
        folders.append(folder)
    photos = sorted(PHOTOS.glob("*.jpg"))
    chosen = [p for p in photos if not is_validation(p.name)][:: max(1, len(photos) // SYNTHETIC_COUNT)][:SYNTHETIC_COUNT]
    for i, path in enumerate(chosen):
        folder = out / "clips" / f"synthetic__{path.stem}"
        if not (folder / "conf_next.npy").exists():
            rng = np.random.default_rng(int(hashlib.sha1(path.name.encode()).hexdigest()[:8], 16))
            sprite = _load_rgb(chosen[(i + 7) % len(chosen)])
            pack_clip(synthetic_clip(_load_rgb(path), sprite, rng), folder)
            if (i + 1) % 20 == 0:
                log(f"packed synthetic clip {i + 1}/{len(chosen)}")
        folders.append(folder)
    (out / "manifest.json").write_text(json.dumps([f.name for f in folders], indent=0))
    return folders


def load_clip(folder: Path) -> dict[str, np.ndarray]:
    return {name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in ARRAYS}


def export_validation_clips(out: Path, log: Callable[[str], None] = print) -> list[Path]:
    """Write each validation video as a folder of PNG color frames (the form `evaluate propagate` reads)."""
    _, validation = video_split()
    folders = []
    for path in validation:
        folder = out / path.stem
        folder.mkdir(parents=True, exist_ok=True)
        count = 0
        for count, frame in enumerate(read_frames(path), 1):
            name = folder / f"{count - 1:05d}.png"
            if not name.exists():
                cv2.imwrite(str(name), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        log(f"exported {path.name}: {count} frames")
        folders.append(folder)
    return folders
