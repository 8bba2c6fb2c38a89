"""Reading and writing real media files through PyAV (FFmpeg).

Never trusts a file name: what a file is comes from probing its contents.
"""
from __future__ import annotations

import dataclasses
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator

import av
import numpy as np


class MediaError(ValueError):
    """A file that is not usable video; the message is fit to show a user."""


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    codec: str
    width: int
    height: int
    frame_count: int
    frame_rate: Fraction
    pix_fmt: str
    start_timecode: str | None
    has_audio: bool


def probe(path: str | Path) -> VideoInfo:
    """Describe the first video stream of a file, or raise MediaError."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise MediaError(f"{Path(path).name}: no video stream found")
            stream = container.streams.video[0]
            ctx = stream.codec_context
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
            if not rate or not ctx.width or not ctx.height:
                raise MediaError(f"{Path(path).name}: video stream has no usable size or frame rate")
            count = stream.frames or _count_frames(container, stream)
            timecode = stream.metadata.get("timecode") or container.metadata.get("timecode")
            return VideoInfo(
                codec=ctx.name,
                width=ctx.width,
                height=ctx.height,
                frame_count=int(count),
                frame_rate=Fraction(rate),
                pix_fmt=ctx.format.name if ctx.format else "unknown",
                start_timecode=timecode,
                has_audio=bool(container.streams.audio),
            )
    except MediaError:
        raise
    except (av.FFmpegError, UnicodeDecodeError, OSError) as exc:
        raise MediaError(f"{Path(path).name}: not a readable video file ({exc.__class__.__name__})") from exc


def _count_frames(container, stream) -> int:
    count = sum(1 for _ in container.decode(stream))
    container.seek(0)
    return count


def read_frames(path: str | Path, *, gray: bool = False) -> Iterator[np.ndarray]:
    """Decode every frame in presentation order: uint8 RGB (HxWx3), or 8-bit gray (HxW)."""
    fmt = "gray" if gray else "rgb24"
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                yield frame.to_ndarray(format=fmt)
    except av.FFmpegError as exc:
        raise MediaError(f"{Path(path).name}: decoding failed ({exc})") from exc


def write_video(
    path: str | Path,
    frames: Iterable[np.ndarray],
    frame_rate: Fraction | int | str,
    *,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    options: dict[str, str] | None = None,
) -> int:
    """Encode uint8 RGB frames; returns the number written."""
    frames = iter(frames)
    first = next(frames, None)
    if first is None:
        raise MediaError("no frames to write")
    height, width = first.shape[:2]
    count = 0
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=Fraction(frame_rate))
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        if options:
            stream.options = dict(options)
        for image in _chain(first, frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            container.mux(stream.encode(frame))
            count += 1
        container.mux(stream.encode(None))
    return count


def _chain(first, rest):
    yield first
    yield from rest
