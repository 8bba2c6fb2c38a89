"""Reading and writing real media files through PyAV (FFmpeg).

Never trusts a file name: what a file is comes from probing its contents.
"""
from __future__ import annotations

import dataclasses
import io
import re
import warnings
import zipfile
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator

import av
import cv2
import numpy as np
import pyvips
from PIL import Image, UnidentifiedImageError

from inference.color import to_luma


class MediaError(ValueError):
    """A file that is not usable video; the message is fit to show a user."""


# libvips decodes image-sequence members for the proxies by streaming; each is read once, so its
# cache of operations would only hold memory.
pyvips.cache_set_max(0)
# One thread: decoding a PNG is sequential anyway, and each thread holds rows of its own.
pyvips.concurrency_set(1)


# Frame rates the studio handles: timecode needs at least one frame a second; above 300 fps no
# broadcast format exists, and a wild rate is a damaged header.
FRAME_RATE_RANGE = (Fraction(1), Fraction(300))
# The smallest frame side the engines take (the propagation's optical flow works on patches of
# 8 px, two across at least).
MIN_FRAME_SIDE = 16


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
    # What the source states beyond size and rate, read at ingest and kept on the footage:
    # rotation (degrees counterclockwise, from the display matrix; width/height above are already
    # the displayed ones), pixel aspect, field order, the streams' start times and the sound.
    facts: dict = dataclasses.field(default_factory=dict)


# FFmpeg's AVFieldOrder, as its names (tt: top field first, bb: bottom field first, ...).
FIELD_ORDERS = {0: "unknown", 1: "progressive", 2: "tt", 3: "bb", 4: "tb", 5: "bt"}
MAX_AUDIO_CHANNELS = 8


def probe(path: str | Path) -> VideoInfo:
    """Describe the first video stream of a file, or raise MediaError.

    Refused, with a message naming the fact: a frame rate outside FRAME_RATE_RANGE, a variable
    frame rate (frame durations differing by more than half a frame), a rotation that is not a
    multiple of 90 degrees, a sound stream of more than MAX_AUDIO_CHANNELS channels."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise MediaError(f"{Path(path).name}: no video stream found")
            stream = container.streams.video[0]
            ctx = stream.codec_context
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
            if not rate or not ctx.width or not ctx.height:
                raise MediaError(f"{Path(path).name}: video stream has no usable size or frame rate")
            name = Path(path).name
            _check_frame_rate(name, rate)
            _check_constant_rate(name, _frame_durations(container, stream), Fraction(rate))
            container.seek(0)
            rotation = _rotation(name, container, stream)
            count = stream.frames or _count_frames(container, stream)
            timecode = stream.metadata.get("timecode") or container.metadata.get("timecode")
            width, height = (ctx.height, ctx.width) if rotation % 180 else (ctx.width, ctx.height)
            check_frame_size(name, width, height)
            return VideoInfo(
                codec=ctx.name,
                width=width,
                height=height,
                frame_count=int(count),
                frame_rate=Fraction(rate),
                pix_fmt=ctx.format.name if ctx.format else "unknown",
                start_timecode=timecode,
                has_audio=bool(container.streams.audio),
                facts=_facts(name, container, stream, rotation, timecode),
            )
    except MediaError:
        raise
    except (av.FFmpegError, UnicodeDecodeError, OSError) as exc:
        raise MediaError(f"{Path(path).name}: not a readable video file ({exc.__class__.__name__})") from exc


def _frame_durations(container, stream) -> list[Fraction]:
    """Seconds between consecutive frames, in presentation order, from the packets' timestamps."""
    times = sorted(p.pts for p in container.demux(stream) if p.pts is not None)
    return [Fraction(b - a) * stream.time_base for a, b in zip(times, times[1:])]


def _check_constant_rate(name: str, durations: list[Fraction], rate: Fraction) -> None:
    frame = 1 / rate
    if durations and (max(durations) - min(durations)) > frame / 2:
        raise MediaError(f"{name}: variable frame rate: frames last from {float(min(durations)) * 1000:.1f} to "
                         f"{float(max(durations)) * 1000:.1f} ms; conform it to a constant rate before uploading "
                         "(sound and picture would drift apart)")


def _rotation(name: str, container, stream) -> int:
    """Degrees counterclockwise the display matrix turns the picture (0, 90, 180, 270)."""
    for frame in container.decode(stream):
        rotation = round(getattr(frame, "rotation", 0) or 0)
        break
    else:
        rotation = 0
    container.seek(0)
    if rotation % 90:
        raise MediaError(f"{name}: the display matrix rotates the picture by {rotation} degrees; "
                         "only multiples of 90 can be applied")
    return rotation % 360


def _facts(name: str, container, stream, rotation: int, timecode: str | None) -> dict:
    ctx = stream.codec_context
    aspect = stream.sample_aspect_ratio or ctx.sample_aspect_ratio
    sound = []
    for index, audio in enumerate(container.streams.audio):
        channels = sound_channels(audio)
        if channels > MAX_AUDIO_CHANNELS:
            raise MediaError(f"{name}: sound stream {index} has {channels} channels; up to "
                             f"{MAX_AUDIO_CHANNELS} can be delivered")
        sound.append({"codec": audio.codec_context.name, "channels": channels,
                      "sample_rate": audio.codec_context.sample_rate,
                      "start": _seconds(audio.start_time, audio.time_base)})
    return {
        "rotation": rotation,
        "stored_size": f"{ctx.width}x{ctx.height}",
        "pixel_aspect": str(aspect) if aspect else "1",
        "field_order": FIELD_ORDERS.get(getattr(ctx, "field_order", 0) or 0, "unknown"),
        "constant_rate": True,  # a variable rate is refused (_check_constant_rate)
        "video_start": _seconds(stream.start_time, stream.time_base),
        "timecode": timecode, "drop_frame": bool(timecode) and is_drop_frame(timecode),
        "sound": sound,
    }


# --- Sound ---------------------------------------------------------------------------------------

# PCM is read straight from its packets, never through PyAV's decoder or channel layout: PyAV 18.1
# corrupts its heap on the layout of a custom-order stream (7.1 PCM in MOV is labelled
# FL+FR+FC+LFE+SL+SR+BL+BR), and the decoder, `.channels` and `.layout` all build it.
# codec -> (numpy sample type, bytes per sample); 24-bit samples are widened by hand.
_PCM = {"pcm_u8": ("u1", 1), "pcm_s8": ("i1", 1), "pcm_s16le": ("<i2", 2), "pcm_s16be": (">i2", 2),
        "pcm_s24le": ("<i4", 3), "pcm_s24be": (">i4", 3), "pcm_s32le": ("<i4", 4), "pcm_s32be": (">i4", 4),
        "pcm_f32le": ("<f4", 4), "pcm_f32be": (">f4", 4), "pcm_f64le": ("<f8", 8), "pcm_f64be": (">f8", 8)}


def sound_channels(stream) -> int:
    """The channel count of a PyAV audio stream; for PCM from its bit rate (rate x channels x
    sample size, exact for PCM), so that no channel layout is built (see _PCM)."""
    ctx = stream.codec_context
    if ctx.name in _PCM and ctx.bit_rate and ctx.sample_rate:
        return round(ctx.bit_rate / (ctx.sample_rate * 8 * _PCM[ctx.name][1]))
    return ctx.channels


def sound_blocks(container, stream) -> Iterator[tuple[int | None, np.ndarray]]:
    """Every sound block of `stream` in `container`, in order: (pts in the stream's time base or
    None, float32 (channels, samples) in [-1, 1]). PCM comes from the packets as they are stored
    (see _PCM), other codecs from PyAV's decoder. Raises av.FFmpegError for a damaged stream."""
    name, channels = stream.codec_context.name, sound_channels(stream)
    if name not in _PCM:
        for frame in container.decode(stream):
            yield frame.pts, _decoded_float(frame, channels)
        return
    dtype, width = _PCM[name]
    for packet in container.demux(stream):
        data = bytes(packet)
        if not data:
            continue
        if width == 3:  # 24-bit: widen each sample to 32 bits, the value in the top three bytes
            raw = np.frombuffer(data[:len(data) // 3 * 3], np.uint8).reshape(-1, 3)
            wide = np.zeros((raw.shape[0], 4), np.uint8)
            wide[:, 1:] = raw if dtype.startswith("<") else raw[:, ::-1]
            samples = wide.view("<i4")[:, 0]
        else:
            samples = np.frombuffer(data[:len(data) // width * width], dtype)
        samples = samples[:samples.size // channels * channels].reshape(-1, channels).T
        yield packet.pts, _to_float(samples)


def _decoded_float(frame, channels: int) -> np.ndarray:
    samples = frame.to_ndarray()
    if not frame.format.is_planar:
        samples = samples.reshape(-1, channels).T
    return _to_float(samples)


def _to_float(samples: np.ndarray) -> np.ndarray:
    """Integer or float samples as float32 in [-1, 1] (unsigned 8-bit is centred on 128)."""
    if samples.dtype == np.uint8:
        return (samples.astype(np.float32) - 128) / 128
    if samples.dtype.kind == "i":
        return samples.astype(np.float32) / float(1 << (8 * samples.dtype.itemsize - 1))
    return samples.astype(np.float32)


def _seconds(value, time_base) -> float:
    return float(Fraction(value or 0) * time_base) if time_base is not None else 0.0


def check_frame_size(name: str, width: int, height: int, max_pixels: int | None = None) -> None:
    """Refuse (MediaError, naming the size) frames of `width` x `height` pixels (as shown, after any
    rotation) that have a side under MIN_FRAME_SIDE or more than `max_pixels` pixels."""
    if min(width, height) < MIN_FRAME_SIDE:
        raise MediaError(f"{name}: frames of {width}x{height} are too small; the engines need at least "
                         f"{MIN_FRAME_SIDE} pixels on each side")
    if max_pixels and width * height > max_pixels:
        raise MediaError(f"{name}: frames of {width}x{height} are over the limit of {max_pixels} pixels")


def _check_frame_rate(name: str, rate) -> None:
    low, high = FRAME_RATE_RANGE
    if not rate or not low <= Fraction(rate) <= high:
        raise MediaError(f"{name}: the frame rate is {float(rate or 0):.6g} fps; footage from {low} to {high} fps "
                         "can be used")


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
    timecode: str | None = None,
) -> int:
    """Encode uint8 RGB frames; returns the number written. `timecode`: start timecode (MOV/MP4)."""
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
        if timecode:
            stream.metadata["timecode"] = timecode
        for image in _chain(first, frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            container.mux(stream.encode(frame))
            count += 1
        container.mux(stream.encode(None))
    return count


def _chain(first, rest):
    yield first
    yield from rest


# --- Random access, image sequences and timecode -------------------------------------------------

SEQUENCE_LIMITS = {
    "max_members": 200_000,          # entries in a zip
    "max_total_bytes": 200 * 2**30,  # declared uncompressed size of all members
    "max_ratio": 1000,               # uncompressed / compressed, per member (zip bombs)
    "max_pixels": 8192 * 8192,       # per image (the studio: COLORPROJ_MAX_FRAME_PIXELS)
}
# An encoded image is never much larger than its raw samples (4 channels of 16 bits) and its
# metadata (ICC profiles, EXIF, thumbnails); a member that is, is padding: refused unread.
_MAX_BYTES_PER_PIXEL, _MAX_IMAGE_METADATA = 8, 16 * 2**20
_SKIPPED_MEMBER = re.compile(r"(^|/)(__MACOSX|\.[^/]*)(/|$)")


def is_zip(path: str | Path) -> bool:
    """By content, not by name."""
    with open(path, "rb") as handle:
        return handle.read(4) in (b"PK\x03\x04", b"PK\x05\x06")


def open_source(path: str | Path, *, frame_rate: Fraction | None = None, info: VideoInfo | None = None) -> "Source":
    """A video file or a zip of an image sequence, chosen by content.

    `info` (from an earlier probe) spares probing again, which for containers that do not
    store a frame count means decoding the whole file.
    """
    if is_zip(path):
        return ImageSequence(path, frame_rate=frame_rate or Fraction(24))
    return VideoSource(path, info=info)


class Source:
    """Frames of a piece of footage, by index: `frame(i)`, `frames(start, stop)`, `luma(i)`.

    Frames come as uint8 RGB, or uint16 RGB for sources with more than 8 bits per component,
    so the full-resolution luma keeps the scan's precision.
    """

    path: Path
    info: VideoInfo

    def frames(self, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        raise NotImplementedError

    def frame(self, index: int) -> np.ndarray:
        if not 0 <= index < self.info.frame_count:
            raise MediaError(f"frame {index} is outside 0..{self.info.frame_count - 1}")
        for image in self.frames(index, index + 1):
            return image
        raise MediaError(f"frame {index} could not be decoded")

    def luma(self, index: int) -> np.ndarray:
        """Rec. 709 Y' of one frame, float32 HxW in [0, 1], full resolution."""
        return to_luma(self.frame(index))

    def proxy_frames(self, width: int, height: int, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        """Frames start..stop-1 reduced to `width`x`height` (as `frames`: uint8 or uint16 RGB,
        upright), for proxies and cut detection. The sources below decode and reduce a frame
        together, so memory does not follow the full frame; this default reduces full frames."""
        for image in self.frames(start, stop):
            yield cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


class VideoSource(Source):
    def __init__(self, path: str | Path, *, info: VideoInfo | None = None):
        self.path = Path(path)
        self.info = info or probe(self.path)
        self._deep = _bit_depth(self.info.pix_fmt) > 8

    def frames(self, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        fmt = "rgb48le" if self._deep else "rgb24"
        for frame, turns in self._decoded(start, stop):
            # The display matrix applied: the picture as it is meant to be seen.
            image = frame.to_ndarray(format=fmt)
            yield np.ascontiguousarray(np.rot90(image, turns)) if turns else image

    def proxy_frames(self, width: int, height: int, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        """As `Source.proxy_frames`: FFmpeg's scaler converts and reduces each decoded frame in one
        pass (no full-size RGB copy); MediaError if a frame's size differs from the stream's."""
        fmt = "rgb48le" if self._deep else "rgb24"
        for index, (frame, turns) in enumerate(self._decoded(start, stop), start=start):
            stored = (self.info.height, self.info.width) if turns % 2 else (self.info.width, self.info.height)
            if (frame.width, frame.height) != stored:
                raise MediaError(f"frame {index} changes size to {frame.width}x{frame.height}")
            size = (height, width) if turns % 2 else (width, height)  # before the turn
            image = frame.reformat(width=size[0], height=size[1], format=fmt, interpolation="AREA").to_ndarray()
            yield np.ascontiguousarray(np.rot90(image, turns)) if turns else image

    def _decoded(self, start: int, stop: int | None):
        """(av.VideoFrame, quarter turns of its display matrix) of frames start..stop-1, in order."""
        stop = self.info.frame_count if stop is None else min(stop, self.info.frame_count)
        if start >= stop:
            return
        try:
            with av.open(str(self.path)) as container:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                index = self._seek(container, stream, start)
                turns = self.info.facts.get("rotation", 0) // 90
                for frame in container.decode(stream):
                    if index >= start:
                        yield frame, turns
                    index += 1
                    if index >= stop:
                        return
        except av.FFmpegError as exc:
            raise MediaError(f"{self.path.name}: decoding failed ({exc})") from exc

    def _seek(self, container, stream, start: int) -> int:
        """Seek to a decodable frame at or before `start`; returns its index (0 = no seek)."""
        if start == 0 or stream.time_base is None:
            return 0
        rate = self.info.frame_rate
        origin = stream.start_time or 0
        target = origin + int(Fraction(start) / rate / stream.time_base)
        container.seek(target, stream=stream, backward=True)
        for frame in container.decode(stream):
            if frame.pts is None:
                break
            index = round((frame.pts - origin) * stream.time_base * rate)
            if index > start:
                break
            # Re-seek to the same point so the frame we just looked at is decoded again.
            container.seek(target, stream=stream, backward=True)
            return index
        container.seek(0, stream=stream, backward=True)
        return 0


def _bit_depth(pix_fmt: str) -> int:
    try:
        return max(c.bits for c in av.VideoFormat(pix_fmt).components)
    except (ValueError, av.FFmpegError):
        return 8


class ImageSequence(Source):
    """A zip of numbered images (PNG, TIFF, JPEG), read member by member without extracting.

    Guards: member count, declared sizes, compression ratio (zip bombs), absolute or `..`
    member names (path traversal), pixel count and consistent frame size.
    """

    def __init__(self, path: str | Path, *, frame_rate: Fraction = Fraction(24), limits: dict | None = None):
        self.path = Path(path)
        self.limits = {**SEQUENCE_LIMITS, **(limits or {})}
        self.members = self._members()
        with zipfile.ZipFile(self.path) as archive:  # the first image's header, not its pixels
            width, height, _ = self._header(archive, self.members[0])
            with archive.open(self.members[0]) as stream:
                deep = _vips_image(stream, repr(self.members[0])).format == "ushort"
        check_frame_size(self.path.name, width, height)
        self.info = VideoInfo(
            codec=self._codec, width=width, height=height, frame_count=len(self.members),
            frame_rate=Fraction(frame_rate), pix_fmt="rgb48le" if deep else "rgb24",
            start_timecode=None, has_audio=False,
        )

    def _members(self) -> list[str]:
        name = self.path.name
        try:
            with zipfile.ZipFile(self.path) as archive:
                infos = archive.infolist()
        except (zipfile.BadZipFile, OSError) as exc:
            raise MediaError(f"{name}: not a readable zip archive") from exc
        if len(infos) > self.limits["max_members"]:
            raise MediaError(f"{name}: too many entries ({len(infos)})")
        total, members = 0, []
        for info in infos:
            member = info.filename
            if member.startswith(("/", "\\")) or ".." in re.split(r"[/\\]", member) or re.match(r"^[A-Za-z]:", member):
                raise MediaError(f"{name}: unsafe path in archive: {member!r}")
            if info.is_dir() or _SKIPPED_MEMBER.search(member):
                continue
            if info.flag_bits & 0x1:
                raise MediaError(f"{name}: encrypted archives are not supported")
            if info.file_size > self.limits["max_ratio"] * max(info.compress_size, 1):
                raise MediaError(f"{name}: {member!r} is compressed suspiciously well (possible zip bomb)")
            total += info.file_size
            if total > self.limits["max_total_bytes"]:
                raise MediaError(f"{name}: archive unpacks to more than {self.limits['max_total_bytes']} bytes")
            members.append(member)
        if not members:
            raise MediaError(f"{name}: the archive holds no images")
        members = sorted(members, key=_natural_key)
        _check_numbering(name, members)
        return members

    def _header(self, archive: zipfile.ZipFile, member: str) -> tuple[int, int, int]:
        """(width, height, EXIF orientation) of a member, width and height upright, from its header
        (read by streaming), once the header showed a frame within the pixel limit and a size that
        such a frame can need: memory follows the frame, not what the archive declares."""
        with archive.open(member) as stream:
            self._codec = _image_codec(stream.read(16))
            if self._codec is None:
                raise MediaError(f"{member!r} is not a PNG, TIFF or JPEG image")
            stream.seek(0)
            width, height, orientation = _image_header(stream, repr(member))
        if width * height > self.limits["max_pixels"]:
            raise MediaError(f"{member!r}: frames of {width}x{height} are over the limit of "
                             f"{self.limits['max_pixels']} pixels")
        size = archive.getinfo(member).file_size
        if size > _MAX_BYTES_PER_PIXEL * width * height + _MAX_IMAGE_METADATA:
            raise MediaError(f"{member!r} holds more data than a {width}x{height} image can need "
                             f"({size} bytes)")
        orientation = orientation if orientation in _EXIF_ORIENTATION else 1
        return (height, width, orientation) if orientation >= 5 else (width, height, orientation)

    def _decode(self, archive: zipfile.ZipFile, member: str) -> np.ndarray:
        """One member as an HxWx3 uint8/uint16 RGB array, upright (`decode_image`), read whole
        once `_header` admitted it."""
        self._header(archive, member)
        return decode_image(archive.read(member), repr(member), max_pixels=self.limits["max_pixels"], color=True)

    def _reduced(self, archive: zipfile.ZipFile, member: str, width: int, height: int) -> np.ndarray:
        """One member reduced to `width`x`height` (upright), uint8/uint16 RGB HxWx3. libvips
        decodes the member as it streams out of the archive and reduces it a few rows at a time:
        neither the member's bytes nor its full-size pixels are ever held."""
        frame_width, frame_height, orientation = self._header(archive, member)
        if (frame_width, frame_height) != (self.info.width, self.info.height):
            raise MediaError(f"{member!r} is {frame_width}x{frame_height}, "
                             f"the sequence is {self.info.width}x{self.info.height}")
        # Reduced as stored, then turned upright (turning the full frame would hold all of it).
        stored = (height, width) if orientation >= 5 else (width, height)
        with archive.open(member) as stream:
            image = _vips_rgb(_vips_image(stream, repr(member)), repr(member))
            # Box averages of whole blocks by libvips, the remaining fraction by OpenCV's area
            # resampling: together, the area average that a full-size resize gives.
            factor = max(1, min(image.width // stored[0], image.height // stored[1]))
            try:
                small = (image.shrink(factor, factor) if factor > 1 else image).numpy()
            except pyvips.Error as exc:
                raise MediaError(f"{member!r} could not be decoded ({_vips_reason(exc)})") from None
        if small.shape[:2] != stored[::-1]:
            small = cv2.resize(small, stored, interpolation=cv2.INTER_AREA)
        turn = _EXIF_ORIENTATION.get(orientation)
        return np.ascontiguousarray(turn(small)) if turn else small

    def frames(self, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        stop = len(self.members) if stop is None else min(stop, len(self.members))
        with zipfile.ZipFile(self.path) as archive:  # opened once: long sequences stay linear
            for member in self.members[start:stop]:
                image = self._decode(archive, member)
                if image.shape[:2] != (self.info.height, self.info.width):
                    raise MediaError(
                        f"{member!r} is {image.shape[1]}x{image.shape[0]}, "
                        f"the sequence is {self.info.width}x{self.info.height}"
                    )
                yield image

    def proxy_frames(self, width: int, height: int, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        """As `Source.proxy_frames`, each member streamed and reduced by libvips (`_reduced`):
        the peak memory is that of the reduced frames, whatever the frame size."""
        stop = len(self.members) if stop is None else min(stop, len(self.members))
        with zipfile.ZipFile(self.path) as archive:
            for member in self.members[start:stop]:
                yield self._reduced(archive, member, width, height)


def _vips_image(stream, name: str) -> pyvips.Image:
    """An image read from the file object `stream` for sequential access: its pixels are decoded
    as they are pulled, a few rows at a time (random access would decode it whole). The image
    reads from `stream` until it is done with; a damaged image fails instead of giving a part."""
    source = pyvips.SourceCustom()
    source.on_read(stream.read)
    source.on_seek(lambda offset, whence: stream.seek(offset, whence))  # TIFF looks for its directories
    try:
        image = pyvips.Image.new_from_source(source, "", access="sequential", fail_on="error")
    except pyvips.Error as exc:
        raise MediaError(f"{name} could not be decoded ({_vips_reason(exc)})") from None
    return image


def _vips_rgb(image: pyvips.Image, name: str) -> pyvips.Image:
    """Three bands of 8 or 16 bits as stored (gray repeated, alpha dropped), as `decode_image`."""
    if image.format not in ("uchar", "ushort"):
        raise MediaError(f"{name}: unsupported sample type {image.format}")
    if image.interpretation == "cmyk":
        image = image.colourspace("srgb")
    if image.bands < 3:
        return image[0].bandjoin([image[0], image[0]])
    return image.extract_band(0, n=3) if image.bands > 3 else image


def _vips_reason(exc: pyvips.Error) -> str:
    """The last line of what libvips said, short enough for a user's message."""
    text = (exc.detail or exc.message or "").strip()
    return text.splitlines()[-1][:200] if text else "unreadable"


# EXIF orientation (TIFF tag 274) -> the turn and flip that shows the picture upright.
_EXIF_ORIENTATION = {
    2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
    5: lambda a: a.swapaxes(0, 1), 6: lambda a: np.rot90(a, -1),
    7: lambda a: a[::-1, ::-1].swapaxes(0, 1), 8: lambda a: np.rot90(a, 1),
}


def _exif_orientation(header: Image.Image) -> int:
    """The EXIF orientation of an opened image, from its header. A PNG's comes only from an eXIf
    chunk before the image data (where the PNG specification puts it): Pillow would decode the
    whole image to look for one after it."""
    if header.format == "PNG" and "exif" not in header.info:
        return 1
    return header.getexif().get(0x0112, 1)


def _image_header(stream, name: str) -> tuple[int, int, int]:
    """(width, height, EXIF orientation) of an image from its header alone, so that pixel bombs are
    refused before anything is decoded. MediaError, starting with `name`, for an unreadable header."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(stream) as header:
                return header.size[0], header.size[1], _exif_orientation(header)
    except Image.DecompressionBombError:
        raise MediaError(f"{name} is too large to decode (over {2 * Image.MAX_IMAGE_PIXELS} pixels)") from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise MediaError(f"{name} could not be decoded (not a readable image)") from exc


def decode_image(data: bytes, name: str, *, max_pixels: int = SEQUENCE_LIMITS["max_pixels"],
                 color: bool = False) -> np.ndarray:
    """A PNG, TIFF or JPEG image, upright: its EXIF orientation applied (every reader of the
    studio and of the `colorproj` commands sees the same picture).

    Returns uint8 or uint16 (as stored), RGB HxWx3 (alpha dropped), or HxW for a gray image
    unless `color` (then gray is repeated into RGB). MediaError (the message starts with `name`)
    for an unreadable image or one over `max_pixels`, refused from its header, before decoding.
    """
    width, height, orientation = _image_header(io.BytesIO(data), name)
    if width * height > max_pixels:
        raise MediaError(f"{name}: frames of {width}x{height} are over the limit of {max_pixels} pixels")
    # IMREAD_UNCHANGED ignores EXIF orientation (IMREAD_COLOR would apply it): applied below, for all.
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise MediaError(f"{name} could not be decoded")
    if image.dtype not in (np.uint8, np.uint16):
        raise MediaError(f"{name}: unsupported sample type {image.dtype}")
    if image.ndim == 3:
        image = cv2.cvtColor(image[..., :3], cv2.COLOR_BGR2RGB) if image.shape[2] >= 3 else image[..., 0]
    if color and image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    turn = _EXIF_ORIENTATION.get(orientation)
    return np.ascontiguousarray(turn(image)) if turn else image


def read_image(path: str | Path, *, max_pixels: int = SEQUENCE_LIMITS["max_pixels"], color: bool = False) -> np.ndarray:
    """An image file, upright and within the decode limit: `decode_image` of its bytes.
    MediaError naming the file otherwise."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise MediaError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    return decode_image(data, str(path), max_pixels=max_pixels, color=color)


def _image_codec(head: bytes) -> str | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "tiff"
    if head.startswith(b"\xff\xd8\xff"):
        return "mjpeg"
    return None


def _check_numbering(name: str, members: list[str]) -> None:
    """MediaError naming the missing frame numbers when the images' last numbers skip any: a gap
    is lost frames (a scan or a copy cut short), and closing it would shift every later frame."""
    numbers = [re.findall(r"\d+", Path(member).stem) for member in members]
    if not all(numbers):
        return  # not a numbered sequence: the names' order is the frames' order
    present = {int(found[-1]) for found in numbers}
    missing = sorted(set(range(min(present), max(present) + 1)) - present)
    if missing:
        shown = ", ".join(str(n) for n in missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
        raise MediaError(f"{name}: the image sequence skips frame numbers {shown}; "
                         "add the missing images or renumber the sequence")


def _natural_key(name: str):
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def sniff(path: str | Path, *, max_pixels: int | None = None) -> str:
    """Quick content check at upload time: 'video' or 'sequence', else MediaError.

    Opens the container and decodes one frame, so a file that merely claims to be video
    is turned away before it is stored. Frames over `max_pixels` are refused by their header,
    before anything is decoded.
    """
    name = Path(path).name
    if is_zip(path):
        sequence = ImageSequence(path, limits={"max_pixels": max_pixels} if max_pixels else None)
        # The first image decoded whole (by streaming, reduced: memory stays small), so an archive
        # of files that merely claim to be images is turned away.
        scale = min(1.0, 64 / max(sequence.info.width, sequence.info.height))
        next(sequence.proxy_frames(max(1, round(sequence.info.width * scale)),
                                   max(1, round(sequence.info.height * scale)), 0, 1))
        return "sequence"
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise MediaError(f"{name}: no video stream found")
            stream = container.streams.video[0]
            check_frame_size(name, stream.width, stream.height, max_pixels)
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
            _check_frame_rate(name, rate)
            _check_constant_rate(name, _frame_durations(container, stream), Fraction(rate))
            container.seek(0)
            for _ in container.decode(video=0):
                return "video"
            raise MediaError(f"{name}: the video stream holds no decodable frame")
    except MediaError:
        raise
    except (av.FFmpegError, UnicodeDecodeError, OSError) as exc:
        raise MediaError(f"{name}: not a video file or an image-sequence zip") from exc


def timecode_base(rate: Fraction) -> tuple[int, bool]:
    """Frames per timecode second and whether the rate can count drop-frame (29.97, 59.94;
    SMPTE ST 12-1). Whether a timecode does is what it states: see `is_drop_frame`."""
    base = round(rate)
    return base, Fraction(rate) != base and base in (30, 60)


def is_drop_frame(timecode: str) -> bool:
    """SMPTE ST 12-1 writes drop-frame timecode with ';' (or '.') before the frames: '00:01:00;02'."""
    return ";" in timecode or "." in timecode


def timecode_to_frames(timecode: str, rate: Fraction) -> int:
    """Frame count of `timecode` at `rate`, drop-frame if the timecode says so and the rate can
    (SMPTE ST 12-1). MediaError for a malformed timecode or one with fields out of range."""
    base, can_drop = timecode_base(rate)
    drop = can_drop and is_drop_frame(timecode)
    parts = re.split(r"[:;.]", timecode.strip())
    if len(parts) != 4 or not all(p.isdigit() for p in parts):
        raise MediaError(f"bad timecode {timecode!r}")
    hours, minutes, seconds, frames = map(int, parts)
    if base < 1 or minutes > 59 or seconds > 59 or frames >= base:
        raise MediaError(f"timecode {timecode!r} is out of range at {rate} fps")
    total = ((hours * 60 + minutes) * 60 + seconds) * base + frames
    if drop:
        skip = base // 15  # 2 frame numbers at 29.97, 4 at 59.94
        total_minutes = hours * 60 + minutes
        total -= skip * (total_minutes - total_minutes // 10)
    return total


def frames_to_timecode(count: int, rate: Fraction, *, drop: bool | None = None) -> str:
    """The timecode of frame `count` at `rate`: drop-frame as `drop` says (None: the rate's
    convention, drop-frame at 29.97 and 59.94), where the rate can (SMPTE ST 12-1)."""
    base, can_drop = timecode_base(rate)
    drop = can_drop and (can_drop if drop is None else drop)
    if drop:
        skip = base // 15
        per_ten = base * 600 - skip * 9
        per_minute = base * 60 - skip
        tens, rest = divmod(count, per_ten)
        count += skip * 9 * tens + (skip * ((rest - skip) // per_minute) if rest > skip else 0)
    frames = count % base
    seconds = count // base
    sep = ";" if drop else ":"
    return f"{seconds // 3600 % 24:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}{sep}{frames:02d}"
