"""The two engines as a render worker uses them: loaded once per process, described for manifests."""
from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from django.conf import settings

_engines: dict[tuple, object] = {}
_hashes: dict[Path, str] = {}
_lock = threading.Lock()


def device() -> str:
    return getattr(settings, "COLORPROJ_INFERENCE_DEVICE", "cpu")


def keyframe_engine(method: str):
    """The keyframe colorizer of this process (the classical method needs no weights)."""
    from inference.keyframe.engine import KeyframeColorizer

    key = ("keyframe", "levin" if method == "levin" else "cnn", device())
    with _lock:
        if key not in _engines:
            _engines[key] = KeyframeColorizer.levin_only() if method == "levin" else KeyframeColorizer.load(device=device())
        return _engines[key]


def propagator(method: str):
    from inference.propagation import ShotPropagator

    key = ("propagation", method, device())
    with _lock:
        if key not in _engines:
            _engines[key] = ShotPropagator.load(device=device(), method=method)
        return _engines[key]


def weights_sha256(path: Path) -> str | None:
    if not path.exists():
        return None
    with _lock:
        if path not in _hashes:
            digest = hashlib.sha256()
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            _hashes[path] = digest.hexdigest()
        return _hashes[path]


def describe(keyframe_method: str, propagation_method: str) -> dict:
    """Engine versions and weights hashes: what a manifest and the inputs hash record."""
    from importlib.metadata import PackageNotFoundError, version

    from inference.keyframe.engine import WEIGHTS as KEYFRAME_WEIGHTS
    from inference.propagation.engine import WEIGHTS as PROPAGATION_WEIGHTS

    try:
        package = version("colorproj")
    except PackageNotFoundError:
        package = "unknown"

    def one(name, method, learned, path):
        entry = {"engine": name, "method": method, "package_version": package}
        if method == learned:
            entry.update(weights=path.name, weights_sha256=weights_sha256(path))
        return entry

    return {"keyframe": one("inference.keyframe", keyframe_method, "cnn", KEYFRAME_WEIGHTS),
            "propagation": one("inference.propagation", propagation_method, "cnn", PROPAGATION_WEIGHTS)}
