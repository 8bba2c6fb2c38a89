"""Frame access for everything built on the studio: proxies for the browser, full-resolution
luma for keyframe previews and renders. Media goes through Django's storage API, so a shared
volume or object storage can hold it.
"""
from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from typing import Iterator

import cv2
import numpy as np
from django.conf import settings
from django.core.files.storage import default_storage

from annotations import storage
from inference.color import to_luma, to_uint8
from inference.media import Source, VideoInfo, open_source


@contextlib.contextmanager
def open_footage(footage) -> Iterator[Source]:
    """The footage's original as a frame source (video or image sequence)."""
    info = None
    if footage.status == footage.Status.READY:  # already probed: do not probe (maybe decode) again
        info = VideoInfo(codec=footage.codec, width=footage.width, height=footage.height,
                         frame_count=footage.frame_count, frame_rate=footage.frame_rate, pix_fmt=footage.pix_fmt,
                         start_timecode=footage.start_timecode, has_audio=footage.has_audio,
                         facts=footage.facts)
    with storage.local_path(footage.original.name) as path:
        yield open_source(path, frame_rate=footage.frame_rate, info=info)


def iter_shot_frames(shot, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
    """Full-resolution frames (uint8 or uint16 RGB) of shot frames start..stop-1, in order."""
    stop = shot.frame_count if stop is None else min(stop, shot.frame_count)
    with open_footage(shot.footage) as source:
        yield from source.frames(shot.first_frame + start, shot.first_frame + stop)


def iter_shot_luma(shot, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
    """Full-resolution Rec. 709 luma (float32 HxW in [0, 1]) of shot frames start..stop-1."""
    for frame in iter_shot_frames(shot, start, stop):
        yield to_luma(frame)


class _LumaCache:
    """A few recently used full-resolution frames: keyframe previews ask for the same one often."""

    def __init__(self, size: int = 8):
        self.size, self.items, self.lock = size, OrderedDict(), threading.Lock()

    def get(self, key, load):
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        value = load()
        value.setflags(write=False)
        with self.lock:
            self.items[key] = value
            while len(self.items) > self.size:
                self.items.popitem(last=False)
        return value


_luma_cache = _LumaCache()


def shot_luma(shot, index: int) -> np.ndarray:
    """Full-resolution luma of shot frame `index` (float32 HxW in [0, 1], read-only array)."""
    footage_frame = shot.footage_frame(index)

    def load():
        with open_footage(shot.footage) as source:
            return source.luma(footage_frame)

    return _luma_cache.get((shot.footage.uid, footage_frame), load)


def read_proxy(shot, index: int) -> np.ndarray:
    """The browser proxy of shot frame `index` as uint8 gray (long side <= COLORPROJ_PROXY_LONG_SIDE)."""
    with default_storage.open(shot.footage.proxy_name(shot.footage_frame(index)), "rb") as handle:
        data = np.frombuffer(handle.read(), np.uint8)
    return cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)


# --- Derivatives, written by ingest ------------------------------------------------------------

def proxy_size(width: int, height: int, long_side: int | None = None) -> tuple[int, int]:
    long_side = long_side or settings.COLORPROJ_PROXY_LONG_SIDE
    scale = min(1.0, long_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def encode_jpeg(gray: np.ndarray, quality: int = 90) -> bytes:
    ok, data = cv2.imencode(".jpg", gray, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return data.tobytes()


def encode_png(image: np.ndarray) -> bytes:
    """PNG of an RGB HxWx3 or gray HxW image (uint8 or uint16)."""
    ok, data = cv2.imencode(".png", np.ascontiguousarray(image[..., ::-1] if image.ndim == 3 else image))
    if not ok:
        raise ValueError("PNG encoding failed")
    return data.tobytes()


def read_png(name: str) -> np.ndarray:
    with default_storage.open(name, "rb") as handle:
        data = np.frombuffer(handle.read(), np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError(f"{name} could not be decoded")
    return np.ascontiguousarray(image[..., ::-1] if image.ndim == 3 else image)


def write_proxy(footage, index: int, frame: np.ndarray) -> np.ndarray:
    """Store the proxy JPEG of footage frame `index` from `frame` (uint8/uint16 RGB or gray, at
    the proxy size or larger, e.g. `Source.proxy_frames`); returns `frame`'s luma (float32 HxW)."""
    luma = to_luma(frame)
    size = (footage.proxy_width, footage.proxy_height)
    small = cv2.resize(to_uint8(luma), size, interpolation=cv2.INTER_AREA) if size != luma.shape[::-1] else to_uint8(luma)
    storage.put(footage.proxy_name(index), encode_jpeg(small))
    return luma


def write_shot_images(shot) -> None:
    """Thumbnail (middle frame) and filmstrip (evenly spaced tiles) of a shot, from its proxies."""
    base = f"{shot.footage.derived_dir}/shots/{shot.pk}"
    middle = read_proxy(shot, shot.frame_count // 2)
    thumb_w, thumb_h = proxy_size(middle.shape[1], middle.shape[0], settings.COLORPROJ_THUMB_LONG_SIDE)
    thumbnail = cv2.resize(middle, (thumb_w, thumb_h), interpolation=cv2.INTER_AREA)
    shot.thumbnail = storage.put(f"{base}/thumbnail.jpg", encode_jpeg(thumbnail))
    tiles = min(settings.COLORPROJ_FILMSTRIP_TILES, shot.frame_count)
    indices = sorted({round(i * (shot.frame_count - 1) / max(tiles - 1, 1)) for i in range(tiles)})
    tile_h = 54
    tile_w = max(1, round(middle.shape[1] * tile_h / middle.shape[0]))
    strip = np.hstack([cv2.resize(read_proxy(shot, i), (tile_w, tile_h), interpolation=cv2.INTER_AREA) for i in indices])
    shot.filmstrip = storage.put(f"{base}/filmstrip.jpg", encode_jpeg(strip, 85))
    shot.filmstrip_frames = indices
