"""The engine work of a render: keyframe images, stretches, and the 16-bit master frames.

Master frames are stored one 16-bit PNG per frame under the render's folder, through
Django's storage API, so any worker sharing the storage can join them. Their luma is the
source's full-precision luma (the engines' 8-bit output gives the chroma only).
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Callable

import numpy as np
from django.core.files.storage import default_storage

from annotations import engines, frames, storage
from inference.color import as_float, with_luma


def frame_name(render, index: int) -> str:
    return f"{render.storage_dir}/frames/{index:06d}.png"


def keyframe_name(render, frame: int) -> str:
    return f"{render.storage_dir}/keyframes/{frame:06d}.png"


def confidence_name(render, index: int) -> str:
    """Frame `index`'s propagation confidence map: 8-bit gray PNG (255: sure), long side 80 px
    (inference.propagation.FrameConfidence); keyframes: one pixel of 255."""
    return f"{render.storage_dir}/confidence/{index:06d}.png"


PICTURES = {"contact-sheet": ("jpg", "image/jpeg"), "qc": ("png", "image/png"), "confidence": ("png", "image/png")}


def picture_name(render, picture: str) -> str:
    """The render's before/after contact sheet ("contact-sheet"), QC curves ("qc") or sheet of
    confidence maps ("confidence")."""
    return f"{render.storage_dir}/{picture}.{PICTURES[picture][0]}"


def to_uint16(image: np.ndarray) -> np.ndarray:
    return (np.clip(image, 0.0, 1.0) * 65535.0 + 0.5).astype(np.uint16)


def _expected(render, kind: str) -> str | None:
    return render.engines.get(kind, {}).get("weights_sha256")


def colorize_keyframes(render) -> None:
    """Full-resolution color image of every approved keyframe (skips those already stored)."""
    for entry in render.keyframes:
        name = keyframe_name(render, entry["frame"])
        if default_storage.exists(name):
            continue
        rgb = engines.colorize_keyframe(render.shot, entry["frame"], entry["hints"], render.keyframe_method,
                                        expected_sha256=_expected(render, "keyframe"))
        storage.put(name, frames.encode_png(rgb))


def keyframe_images(render) -> dict[int, np.ndarray]:
    return {entry["frame"]: frames.read_png(keyframe_name(render, entry["frame"])) for entry in render.keyframes}


class ShotLuma:
    """Full-precision luma of a shot's frames by index, decoded a chunk at a time.

    The propagation walks a stretch forward or backward and then visits it again in order; a
    few chunks kept in memory serve both without holding a long stretch whole (an HD frame's
    luma is 8 MB) and without seeking for every frame.
    """

    def __init__(self, shot, chunk: int = 16, chunks: int = 3):
        self.shot, self.chunk, self.chunks = shot, chunk, chunks
        self.cache: OrderedDict[int, list[np.ndarray]] = OrderedDict()

    def __call__(self, index: int) -> np.ndarray:
        if not 0 <= index < self.shot.frame_count:
            raise IndexError(f"frame {index} is outside this shot")
        key = index // self.chunk
        if key not in self.cache:
            start = key * self.chunk
            self.cache[key] = list(frames.iter_shot_luma(self.shot, start, start + self.chunk))
            while len(self.cache) > self.chunks:
                self.cache.popitem(last=False)
        self.cache.move_to_end(key)
        return self.cache[key][index - key * self.chunk]


def compute_stretch(render, start: int, end: int, progress: Callable[[int], None] | None = None) -> str:
    """Propagate frames [start, end), store them as 16-bit masters with their confidence maps;
    returns the sha256 of their pixels."""
    shot = render.shot
    luma = ShotLuma(shot)
    propagator = engines.propagator(render.propagation_method, _expected(render, "propagation"))
    digest = hashlib.sha256()
    for done, (index, rgb, confidence) in enumerate(propagator.propagate_stretch(
            luma, keyframe_images(render), start, end, count=shot.frame_count, with_confidence=True), 1):
        master = to_uint16(with_luma(luma(index), as_float(rgb)))
        storage.put(frame_name(render, index), frames.encode_png(master))
        storage.put(confidence_name(render, index), frames.encode_png(confidence.map))
        digest.update(master.tobytes())
        if progress:
            progress(done)
    return digest.hexdigest()
