"""The two engines as the studio uses them: loaded once per process, described for manifests, and
one way to colorize a keyframe (`colorize_keyframe`) for previews, review pages and renders.

A render records the weights it started with (their sha256); every job checks that the engine it
runs has exactly those weights, so a worker with other weights cannot slip different frames in.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import cv2
import numpy as np
from django.conf import settings

from annotations import frames
from inference.color import to_uint8
from inference.hints import Hints, parse_hints

LEARNED = {"keyframe": "cnn", "propagation": "cnn"}
PREVIEW_LONG_SIDE = 512  # pixels: live previews and color suggestions
# Torch's intra-op threads for every engine job of a process, set before each one. Jobs run side by
# side: one thread each beats several contending for the cores (~100 ms against ~900 ms for a
# 512-px preview on 2 busy cores). And one fixed count, whatever job ran first, keeps a render's
# frames identical from run to run: the network's sums round differently with another count.
TORCH_THREADS = int(os.environ.get("COLORPROJ_TORCH_THREADS", "1"))
_engines: dict[tuple, tuple[object, str | None]] = {}
_cache: dict[tuple, object] = {}
_lock = threading.RLock()


def device() -> str:
    return getattr(settings, "COLORPROJ_INFERENCE_DEVICE", "cpu")


# The engines' modules load torch. They are imported where first needed, so a process that never
# runs an engine (the web server, most of its life) does not hold torch in memory.

def weights_path(kind: str) -> Path:
    if kind == "keyframe":
        from inference.keyframe.engine import WEIGHTS
    else:
        from inference.propagation.engine import WEIGHTS
    return WEIGHTS


def _stamp(path: Path) -> tuple:
    stat = path.stat()
    return path, stat.st_mtime_ns, stat.st_size


def weights_sha256(path: Path) -> str | None:
    if not path.exists():
        return None
    key = ("sha256", *_stamp(path))
    with _lock:
        if key not in _cache:
            with open(path, "rb") as handle:
                _cache[key] = hashlib.file_digest(handle, "sha256").hexdigest()
        return _cache[key]


def weights_meta(path: Path) -> dict:
    """What a weights file says about itself (training step, configuration), JSON-safe."""
    import torch  # see weights_path

    key = ("meta", *_stamp(path))
    with _lock:
        if key not in _cache:
            blob = torch.load(path, map_location="cpu", weights_only=True)
            fields = ("meta", "config", "version")
            meta = {name: blob[name] for name in fields if isinstance(blob, dict) and name in blob}
            _cache[key] = json.loads(json.dumps(meta, default=str))
        return _cache[key]


def _load(kind: str, method: str):
    if kind == "keyframe":  # imports: see weights_path
        from inference.keyframe.engine import KeyframeColorizer

        return KeyframeColorizer.levin_only() if method != "cnn" else KeyframeColorizer.load(device=device())
    from inference.propagation import ShotPropagator

    return ShotPropagator.load(device=device(), method=method)


def engine(kind: str, method: str, expected_sha256: str | None = None):
    """The `kind` engine ("keyframe" or "propagation") of this process, reloaded when its weights
    change, with torch on TORCH_THREADS threads.

    `expected_sha256`: the weights the render started with; other weights are a clear error.
    """
    learned = method == LEARNED[kind]
    with _lock:
        import torch  # see weights_path

        if torch.get_num_threads() != TORCH_THREADS:
            torch.set_num_threads(TORCH_THREADS)
        current = weights_sha256(weights_path(kind)) if learned else None
        key = (kind, method, device())
        loaded = _engines.get(key)
        if loaded is None or loaded[1] != current:
            loaded = _engines[key] = (_load(kind, method), current)
        if learned and expected_sha256 and loaded[1] != expected_sha256:
            raise ValueError(f"this worker's {kind} weights ({(loaded[1] or 'none')[:12]}) are not the ones the render "
                             f"started with ({expected_sha256[:12]}); give every worker the same weights, or start a "
                             "new render")
        return loaded[0]


def keyframe_engine(method: str, expected_sha256: str | None = None):
    return engine("keyframe", method, expected_sha256)


def propagator(method: str, expected_sha256: str | None = None):
    return engine("propagation", method, expected_sha256)


def describe(keyframe_method: str, propagation_method: str) -> dict:
    """Engine versions and weights hashes: what a manifest and the inputs hash record."""
    try:
        package = version("colorproj")
    except PackageNotFoundError:
        package = "unknown"

    def one(kind, method):
        entry = {"engine": f"inference.{kind}", "method": method, "package_version": package}
        path = weights_path(kind)
        if method == LEARNED[kind]:
            entry.update(weights=path.name, weights_sha256=weights_sha256(path))
            if path.exists():
                entry["weights_meta"] = weights_meta(path)
        return entry

    return {"keyframe": one("keyframe", keyframe_method), "propagation": one("propagation", propagation_method)}


# --- Keyframe colorization: hints are in source pixels, a preview is computed at preview size ---

def preview_size(width: int, height: int, long_side: int = PREVIEW_LONG_SIDE) -> tuple[int, int, float]:
    """Width, height and scale of a frame shrunk to `long_side` (never enlarged)."""
    scale = min(1.0, long_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale)), scale


def scaled_hints(content: dict, scale: float, width: int, height: int) -> Hints:
    """The hint set in preview pixels (positions, patch radii and stroke widths scaled)."""
    def place(x, y):
        return min(max(x * scale, 0.0), width - 1.0), min(max(y * scale, 0.0), height - 1.0)

    points = [{**p, "radius": min(p.get("radius", 2), max(0, round(p.get("radius", 2) * scale))),
               **dict(zip("xy", place(p["x"], p["y"])))} for p in content.get("points", [])]
    strokes = [{**s, "width": max(1.0, s.get("width", 3) * scale),
                "points": [list(place(x, y)) for x, y in s["points"]]} for s in content.get("strokes", [])]
    return parse_hints({"points": points, "strokes": strokes}, width, height)


def preview_luma(shot, frame: int, long_side: int = PREVIEW_LONG_SIDE) -> tuple[np.ndarray, float]:
    """uint8 luma (HxW) of a shot frame, long side at most `long_side`, and the scale from source pixels."""
    luma = frames.shot_luma(shot, frame)
    height, width = luma.shape
    w, h, scale = preview_size(width, height, long_side)
    small = luma if (w, h) == (width, height) else cv2.resize(luma, (w, h), interpolation=cv2.INTER_AREA)
    return to_uint8(small), scale


def colorize_keyframe(shot, frame: int, content: dict, method: str, *, long_side: int | None = None,
                      expected_sha256: str | None = None) -> np.ndarray:
    """Shot frame `frame` colorized from the hint set `content` (source pixels) by the keyframe
    engine's `method` ("cnn": the user-guided network of Zhang et al. 2017; "levin": Levin et al.
    2004 optimization), as uint8 RGB HxWx3.

    `long_side` None: from the full-resolution frame, at full resolution (renders, review pages);
    otherwise from its luma shrunk to `long_side` with the hints scaled alike (live previews).
    `expected_sha256`: the network weights a render started with (ValueError for others).
    Raises HintError for hints that do not fit the frame.
    """
    engine = keyframe_engine(method, expected_sha256)
    if long_side is None:
        image = next(frames.iter_shot_frames(shot, frame, frame + 1))
        return engine.colorize(image, parse_hints(content, shot.width, shot.height), method=method)
    luma, scale = preview_luma(shot, frame, long_side)
    hints = scaled_hints(content, scale, luma.shape[1], luma.shape[0])
    return engine.colorize(luma, hints, method=method, long_side=long_side)


def preview_with_guidance(shot, frame: int, content: dict, long_side: int) -> tuple[np.ndarray, dict]:
    """A live preview by the network (as `colorize_keyframe` with method "cnn" and `long_side`)
    and where the annotator's next point would help most: {"map": uint8 HxW (0 sure .. 255
    least sure, the network's size), "next": {"x", "y"} in source pixels or None, "colors":
    [{"color": "#rrggbb", "probability"}, ...] likely there}. See inference.keyframe.Guidance."""
    engine = keyframe_engine("cnn", None)
    luma, scale = preview_luma(shot, frame, long_side)
    hints = scaled_hints(content, scale, luma.shape[1], luma.shape[0])
    rgb, guidance = engine.colorize(luma, hints, method="cnn", long_side=long_side, guidance=True)
    at = guidance.next_point
    return rgb, {"map": guidance.map,
                 "next": None if at is None else {"x": round(at[0] / scale, 1), "y": round(at[1] / scale, 1)},
                 "colors": [{"color": c, "probability": round(float(p), 4)} for c, p in guidance.colors]}
