"""The engine work of a render: keyframe images, stretches, and the 16-bit master frames.

Master frames are stored one 16-bit PNG per frame under the render's folder, through
Django's storage API, so any worker sharing the storage can join them. Their luma is the
source's full-precision luma (the engines' 8-bit output gives the chroma only).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections import OrderedDict
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

import cv2
import numpy as np
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from annotations import frames
from annotations import engines
from inference.color import as_float, with_luma
from inference.hints import parse_hints


def frame_name(render, index: int) -> str:
    return f"{render.storage_dir}/frames/{index:06d}.png"


def keyframe_name(render, frame: int) -> str:
    return f"{render.storage_dir}/keyframes/{frame:06d}.png"


PICTURES = {"contact-sheet": ("jpg", "image/jpeg"), "qc": ("png", "image/png")}


def picture_name(render, picture: str) -> str:
    """The render's before/after contact sheet ("contact-sheet") or QC curves ("qc")."""
    return f"{render.storage_dir}/{picture}.{PICTURES[picture][0]}"


def put(name: str, content: bytes | BinaryIO) -> str:
    """Store `content` under exactly `name`, replacing what is there, never leaving a partial file.

    Two jobs doing the same work (a redelivered one and its presumed-dead original) may write the
    same name at once; on a filesystem the file is swapped in whole (os.replace), elsewhere the
    storage's save overwrites it.
    """
    try:
        target = Path(default_storage.path(name))
    except NotImplementedError:
        target = None
    if target is None:
        if default_storage.exists(name):
            default_storage.delete(name)
        data = content if isinstance(content, bytes) else content.read()
        return default_storage.save(name, ContentFile(data))
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, prefix=".part-", delete=False) as part:
        if isinstance(content, bytes):
            part.write(content)
        else:
            shutil.copyfileobj(content, part, 1 << 20)
    os.chmod(part.name, 0o644)
    os.replace(part.name, target)
    return name


def to_uint16(image: np.ndarray) -> np.ndarray:
    return (np.clip(image, 0.0, 1.0) * 65535.0 + 0.5).astype(np.uint16)


def encode_png(rgb: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", np.ascontiguousarray(rgb[..., ::-1]))
    if not ok:
        raise ValueError("PNG encoding failed")
    return data.tobytes()


def read_png(name: str) -> np.ndarray:
    with default_storage.open(name, "rb") as handle:
        data = np.frombuffer(handle.read(), np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError(f"{name} could not be decoded")
    return np.ascontiguousarray(image[..., ::-1])


def _expected(render, kind: str) -> str | None:
    return render.engines.get(kind, {}).get("weights_sha256")


def colorize_keyframes(render) -> None:
    """Full-resolution color image of every approved keyframe (skips those already stored)."""
    shot = render.shot
    engine = None
    for entry in render.keyframes:
        name = keyframe_name(render, entry["frame"])
        if default_storage.exists(name):
            continue
        engine = engine or engines.keyframe_engine(render.keyframe_method, _expected(render, "keyframe"))
        image = next(frames.iter_shot_frames(shot, entry["frame"], entry["frame"] + 1))
        hints = parse_hints(entry["hints"], shot.width, shot.height)
        rgb = engine.colorize(image, hints, method=render.keyframe_method)
        put(name, encode_png(rgb))


def keyframe_images(render) -> dict[int, np.ndarray]:
    return {entry["frame"]: read_png(keyframe_name(render, entry["frame"])) for entry in render.keyframes}


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
    """Propagate frames [start, end), store them as 16-bit masters; returns the sha256 of their pixels."""
    shot = render.shot
    luma = ShotLuma(shot)
    propagator = engines.propagator(render.propagation_method, _expected(render, "propagation"))
    digest = hashlib.sha256()
    for done, (index, rgb) in enumerate(
            propagator.propagate_stretch(luma, keyframe_images(render), start, end, count=shot.frame_count), 1):
        master = to_uint16(with_luma(luma(index), as_float(rgb)))
        put(frame_name(render, index), encode_png(master))
        digest.update(master.tobytes())
        if progress:
            progress(done)
    return digest.hexdigest()


def master_frames(render) -> Iterator[np.ndarray]:
    """The joined render: 16-bit RGB frames in order."""
    for index in range(render.shot.frame_count):
        yield read_png(frame_name(render, index))
