"""The two engines as a render worker uses them: loaded once per process, described for manifests.

A render records the weights it started with (their sha256); every job checks that the engine it
runs has exactly those weights, so a worker with other weights cannot slip different frames in.
"""
from __future__ import annotations

import json
import threading
from pathlib import Path

from django.conf import settings

from inference.metrics import sha256_file

LEARNED = {"keyframe": "cnn", "propagation": "cnn"}
_engines: dict[tuple, tuple[object, str | None]] = {}
_cache: dict[tuple, object] = {}
_lock = threading.RLock()


def device() -> str:
    return getattr(settings, "COLORPROJ_INFERENCE_DEVICE", "cpu")


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
            _cache[key] = sha256_file(path)
        return _cache[key]


def weights_meta(path: Path) -> dict:
    """What a weights file says about itself (training step, configuration), JSON-safe."""
    import torch

    key = ("meta", *_stamp(path))
    with _lock:
        if key not in _cache:
            blob = torch.load(path, map_location="cpu", weights_only=True)
            fields = ("meta", "config", "version")
            meta = {name: blob[name] for name in fields if isinstance(blob, dict) and name in blob}
            _cache[key] = json.loads(json.dumps(meta, default=str))
        return _cache[key]


def _load(kind: str, method: str):
    if kind == "keyframe":
        from inference.keyframe.engine import KeyframeColorizer

        return KeyframeColorizer.levin_only() if method != "cnn" else KeyframeColorizer.load(device=device())
    from inference.propagation import ShotPropagator

    return ShotPropagator.load(device=device(), method=method)


def engine(kind: str, method: str, expected_sha256: str | None = None):
    """The `kind` engine ("keyframe" or "propagation") of this process, reloaded when its weights change.

    `expected_sha256`: the weights the render started with; other weights are a clear error.
    """
    learned = method == LEARNED[kind]
    with _lock:
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
    from importlib.metadata import PackageNotFoundError, version

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
