"""Broadcast deliverables of a render, written in one pass over its joined 16-bit frames.

- H.264 MP4 review copy: 8-bit 4:2:0, BT.709, limited range, fast start; the source's first
  audio stream remuxed untouched when MP4 can carry it (AAC, MP3, AC-3, ...), else (PCM) encoded
  as AAC (more than two channels: mixed down to stereo);
- ProRes 422 HQ mezzanine (prores_ks profile 3, 10-bit 4:2:2) in MOV, with the source's frame
  rate and start timecode and every source audio stream as 24-bit PCM;
- 16-bit PNG sequence in a zip, numbered from the render's sequence start (1001 by default).

R'G'B' -> Y'CbCr is done here with the exact Rec. 709 limited-range equations (swscale's
fast path overshoots white by a few codes), so legal levels hold by construction and the
read-back check measures only what the codec does.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import math
import tempfile
import uuid
import zipfile
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from django.core.files.storage import default_storage

from annotations import frames, storage
from annotations.render import pictures, pipeline, qc
from inference.color import REC709, as_float
from inference.media import FIELD_ORDERS, sound_blocks, sound_channels

MP4_AUDIO = {"aac", "mp3", "ac3", "eac3", "alac", "opus", "flac"}
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, so the same frames give the same zip bytes
CONTENT_TYPES = {"mp4": "video/mp4", "prores": "video/quicktime", "png": "application/zip"}


def file_names(render) -> dict[str, str]:
    base = f"{storage.slug(render.shot.name)}_r{render.pk}"
    return {"mp4": f"{base}_review.mp4", "prores": f"{base}_prores422hq.mov", "png": f"{base}_png16.zip"}


# --- Y'CbCr ---------------------------------------------------------------------------------------

def ycbcr(rgb: np.ndarray, bits: int, chroma: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rec. 709 limited-range planes of R'G'B' (uint8/uint16/float); chroma "422" or "420" (averaged)."""
    rgb = as_float(rgb)
    y = rgb @ REC709
    cb = (rgb[..., 2] - y) / 1.8556
    cr = (rgb[..., 0] - y) / 1.5748
    if chroma in ("422", "420"):
        cb, cr = ((c[:, 0::2] + c[:, 1::2]) / 2 for c in (cb, cr))
    if chroma == "420":
        cb, cr = ((c[0::2] + c[1::2]) / 2 for c in (cb, cr))
    scale = 1 << (bits - 8)
    dtype = np.uint8 if bits == 8 else np.uint16
    (y_lo, y_hi), (c_lo, c_hi) = qc.LEGAL[bits]
    to_code = lambda v, lo, hi, offset, span: np.clip(np.rint(offset * scale + span * scale * v), lo, hi).astype(dtype)
    return to_code(y, y_lo, y_hi, 16, 219), to_code(cb, c_lo, c_hi, 128, 224), to_code(cr, c_lo, c_hi, 128, 224)


def yuv_frame(planes, pix_fmt: str) -> av.VideoFrame:
    height, width = planes[0].shape
    frame = av.VideoFrame(width, height, pix_fmt)
    for plane, values in zip(frame.planes, planes):
        itemsize = values.dtype.itemsize
        padded = np.zeros((plane.height, plane.line_size // itemsize), values.dtype)
        padded[:, : values.shape[1]] = values
        plane.update(padded.astype(values.dtype.newbyteorder("<"), copy=False).tobytes())
    # BT.709 primaries, transfer and matrix, limited ("MPEG") range: prores_ks writes the frame's
    # own tags into its bitstream, the muxer the codec context's into the container.
    frame.colorspace, frame.color_range, frame.color_primaries, frame.color_trc = 1, 1, 1, 1
    return frame


# --- Audio ----------------------------------------------------------------------------------------

# The layout a stream of n channels is labelled with (FFmpeg's default order for n). A source's own
# layout is never read (inference.media.sound_blocks says why), and PCM in Matroska states none.
# Channels keep the source's order.
DEFAULT_LAYOUTS = {1: "mono", 2: "stereo", 3: "3.0", 4: "4.0", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}
MASTER_PCM = "pcm_s24le"  # every audio stream of the ProRes master: 24-bit PCM, as a broadcast master


def shot_samples(source, stream, begin: Fraction, end: Fraction):
    """The samples of `stream` that play with the picture from `begin` to `end` seconds (0 = the
    footage's first frame): float32 (channels, n) blocks, exactly round((end - begin) * rate)
    samples in all, silence where the sound starts late or ends early.

    Times are the streams' own timestamps, so a stream that starts before or after the picture
    (a start offset) stays in sync to the sample.
    """
    video = source.streams.video[0]
    zero = Fraction(video.start_time or 0) * video.time_base
    rate, channels = stream.codec_context.sample_rate, sound_channels(stream)
    wanted, last = round(begin * rate), round(end * rate)
    # Timestamps are only as fine as the time base (Matroska: 1 ms): a frame within that of where
    # the previous one ended continues it; a larger step is a real gap or overlap.
    slack, follows = math.ceil(rate * stream.time_base) + 1, None
    for pts, samples in sound_blocks(source, stream):
        at = (follows or 0) if pts is None else round((pts * stream.time_base - zero) * rate)
        if follows is not None and abs(at - follows) <= slack:
            at = follows
        follows = at + samples.shape[1]
        if at >= last:
            break
        if at > wanted:  # a gap, or sound that starts after the picture
            yield np.zeros((channels, at - wanted), np.float32)
            wanted = at
        lo, hi = wanted - at, min(last - at, samples.shape[1])
        if hi > lo:
            yield samples[:, lo:hi]
            wanted = at + hi
    if wanted < last:  # sound that ends before the picture
        yield np.zeros((channels, last - wanted), np.float32)


def _downmix_weights(channels: int) -> np.ndarray:
    """(2, channels) Lo/Ro downmix (ITU-R BS.775 coefficients, each side scaled to sum to 1) of the
    default layout for `channels`; LFE is left out."""
    names = [c.name for c in av.AudioLayout(DEFAULT_LAYOUTS[channels]).channels]
    weights = np.zeros((2, channels), np.float32)
    for index, name in enumerate(names):
        gain = 0.0 if name == "LFE" else 1.0 if name in ("FL", "FR") else 0.7071
        if name.endswith("L"):
            weights[0, index] = gain
        elif name.endswith("R"):
            weights[1, index] = gain
        else:  # a centre channel feeds both sides
            weights[:, index] = gain
    return weights / weights.sum(axis=1, keepdims=True)


def _audio_span(shot) -> tuple[Fraction, Fraction]:
    rate = Fraction(shot.frame_rate)
    return Fraction(shot.first_frame) / rate, Fraction(shot.first_frame + shot.frame_count) / rate


def _check_channels(stream, index: int) -> int:
    channels = sound_channels(stream)
    if channels not in DEFAULT_LAYOUTS:
        raise ValueError(f"audio stream {index} has {channels} channels; up to 8 can be delivered")
    return channels


def master_audio(output, shot) -> dict:
    """Every audio stream of the source, as 24-bit PCM in its own track of `output` (the ProRes
    master), sample-accurate to the shot. Must run before the first video packet is muxed."""
    footage = shot.footage
    if not footage.has_audio or footage.kind != footage.Kind.VIDEO:
        return {"audio": "none in source"}
    tracks = []
    with storage.local_path(footage.original.name) as path, contextlib.ExitStack() as stack:
        with av.open(str(path)) as probe:
            count = len(probe.streams.audio)
        # One demuxer per stream, each read start to end in turn; every output track is added
        # before the first packet is muxed (the container's header is written then).
        sources = [stack.enter_context(av.open(str(path))) for _ in range(count)]
        plan = []
        for index, source in enumerate(sources):
            stream = source.streams.audio[index]
            channels = _check_channels(stream, index)
            out = output.add_stream(MASTER_PCM, rate=stream.codec_context.sample_rate)
            out.layout, out.codec_context.format = DEFAULT_LAYOUTS[channels], "s32"
            plan.append((source, stream, out, channels))
        for source, stream, out, channels in plan:
            rate, layout = stream.codec_context.sample_rate, out.layout.name
            written = 0
            for block in shot_samples(source, stream, *_audio_span(shot)):
                packed = np.rint(np.clip(block, -1, 1 - 2 ** -23) * 2 ** 23).astype(np.int32) << 8
                piece = av.AudioFrame.from_ndarray(np.ascontiguousarray(packed.T.reshape(1, -1)),
                                                   format="s32", layout=layout)
                piece.sample_rate, piece.pts = rate, written
                written += block.shape[1]
                output.mux(out.encode(piece))
            output.mux(out.encode(None))
            tracks.append({"source_codec": stream.codec_context.name, "channels": channels,
                           "labelled": layout, "sample_rate": rate, "samples": written})
    return {"audio": f"every source audio stream as {MASTER_PCM}, in the source's channel order",
            "audio_codec": MASTER_PCM, "audio_tracks": tracks}


def review_audio(output, shot) -> dict:
    """The source's first audio stream for the review MP4: its packets remuxed untouched when MP4
    can carry the codec (MP4_AUDIO), else encoded as AAC (more than two channels: a Lo/Ro stereo
    downmix). Must run before the first video packet is muxed."""
    footage = shot.footage
    if not footage.has_audio or footage.kind != footage.Kind.VIDEO:
        return {"audio": "none in source"}
    with storage.local_path(footage.original.name) as path, av.open(str(path)) as source:
        stream = source.streams.audio[0]
        if stream.codec_context.name in MP4_AUDIO:
            return _remux_audio(output, source, stream, *_audio_span(shot))
        return _encode_aac(output, source, stream, *_audio_span(shot))


def _remux_audio(output, source, stream, begin: Fraction, end: Fraction) -> dict:
    out = output.add_stream_from_template(stream)
    video = source.streams.video[0]
    # Timestamps keep their offset to the shot's first frame (a start offset, encoder priming).
    origin = round(Fraction(video.start_time or 0) * video.time_base / stream.time_base)
    shift = origin + round(begin / stream.time_base)
    packets, size, previous = 0, 0, None
    digest = hashlib.sha256()

    def put(packet):
        nonlocal packets, size
        digest.update(bytes(packet))
        packet.pts -= shift
        packet.dts -= shift
        packet.stream = out
        size += packet.size
        packets += 1
        output.mux(packet)

    for packet in source.demux(stream):
        if packet.pts is None or packet.dts is None:
            continue
        start = (packet.pts - origin) * stream.time_base
        stop = start + (packet.duration or 0) * stream.time_base
        if stop <= begin:
            previous = packet  # the packet just before the shot: the decoder's pre-roll
            continue
        if start >= end:
            break
        if previous is not None:
            put(previous)
            previous = None
        put(packet)
    return {"audio": "passed through untouched", "audio_codec": stream.codec_context.name,
            "audio_packets": packets, "audio_bytes": size, "audio_sha256": digest.hexdigest()}


def _encode_aac(output, source, stream, begin: Fraction, end: Fraction) -> dict:
    """Sample-accurate: exactly the samples of the shot's time span, at the source's rate."""
    channels = _check_channels(stream, 0)
    rate, layout = stream.codec_context.sample_rate, "mono" if channels == 1 else "stereo"
    out = output.add_stream("aac", rate=rate)
    out.layout, out.bit_rate = layout, 320_000
    weights = _downmix_weights(channels) if channels > 2 else None
    written = 0
    for block in shot_samples(source, stream, begin, end):
        if weights is not None:
            block = weights @ block
        piece = av.AudioFrame.from_ndarray(np.ascontiguousarray(block, np.float32), format="fltp", layout=layout)
        piece.sample_rate, piece.pts = rate, written
        written += block.shape[1]
        output.mux(out.encode(piece))
    output.mux(out.encode(None))
    mixed = f", {channels} channels mixed down to Lo/Ro stereo" if weights is not None else ""
    return {"audio": f"encoded as AAC from {stream.codec_context.name} (MP4 cannot carry it){mixed}",
            "audio_codec": "aac", "audio_source_codec": stream.codec_context.name, "audio_samples": written}


# --- Encoders -------------------------------------------------------------------------------------

class VideoEncoder:
    """One video file: frames in as 16-bit R'G'B', Y'CbCr out through a real codec."""

    def __init__(self, path: Path, shot, *, codec: str, pix_fmt: str, bits: int, chroma: str,
                 options: dict, container_options: dict | None = None, audio=review_audio):
        self.path, self.pix_fmt, self.bits, self.chroma = path, pix_fmt, bits, chroma
        # 4:2:2 needs an even width, 4:2:0 an even height too: an odd size gets its last column/row
        # repeated (the PNG sequence keeps the size exactly).
        self.pad = (shot.height % 2 if chroma == "420" else 0, shot.width % 2)
        width, height = shot.width + self.pad[1], shot.height + self.pad[0]
        self.container = av.open(str(path), "w", options=container_options or {})
        self.stream = self.container.add_stream(codec, rate=shot.frame_rate)
        self.stream.width, self.stream.height, self.stream.pix_fmt = width, height, pix_fmt
        self.stream.options = options
        self.stream.metadata["timecode"] = shot.start_timecode
        context = self.stream.codec_context
        context.color_range, context.colorspace, context.color_primaries, context.color_trc = 1, 1, 1, 1
        # Carried from the source: pixel aspect and field order (tagged; the frames are not re-interlaced).
        facts = shot.footage.facts
        if facts.get("pixel_aspect", "1") not in ("1", "0"):
            context.sample_aspect_ratio = Fraction(facts["pixel_aspect"])
        field_order = {name: code for code, name in FIELD_ORDERS.items()}.get(facts.get("field_order"), 0)
        if field_order > 1:
            context.field_order = field_order
        self.notes = audio(self.container, shot)  # what was done, for the manifest
        if any(self.pad):
            self.notes["size"] = (f"{shot.width}x{shot.height} padded to {width}x{height} by repeating the last "
                                  f"column/row ({pix_fmt} needs even dimensions)")
        self.time_base = 1 / Fraction(shot.frame_rate)
        self.count = 0

    def write(self, rgb16: np.ndarray) -> None:
        if any(self.pad):
            rgb16 = np.pad(rgb16, ((0, self.pad[0]), (0, self.pad[1]), (0, 0)), mode="edge")
        frame = yuv_frame(ycbcr(rgb16, self.bits, self.chroma), self.pix_fmt)
        frame.pts = self.count
        frame.time_base = self.time_base
        self.container.mux(self.stream.encode(frame))
        self.count += 1

    def close(self) -> None:
        self.container.mux(self.stream.encode(None))
        self.container.close()


def review_encoder(path: Path, shot) -> VideoEncoder:
    # One encoder thread: frame-threaded x264 was seen to give different bytes for the same frames
    # on a loaded machine, and the same approved revisions must give the same files.
    return VideoEncoder(path, shot, codec="libx264", pix_fmt="yuv420p", bits=8, chroma="420",
                        options={"crf": "17", "preset": "medium", "threads": "1"},
                        container_options={"movflags": "+faststart"})


def prores_encoder(path: Path, shot) -> VideoEncoder:
    return VideoEncoder(path, shot, codec="prores_ks", pix_fmt="yuv422p10le", bits=10, chroma="422",
                        options={"profile": "3", "vendor": "apl0"}, audio=master_audio)


FORMATS = {
    "mp4": {"container": "MP4", "codec": "H.264 (libx264)", "pix_fmt": "yuv420p", "bit_depth": 8,
            "color": "Rec. 709, limited range"},
    "prores": {"container": "QuickTime MOV", "codec": "Apple ProRes 422 HQ (prores_ks profile 3)",
               "pix_fmt": "yuv422p10le", "bit_depth": 10, "color": "Rec. 709, limited range"},
    "png": {"container": "zip (stored)", "codec": "PNG", "pix_fmt": "rgb48", "bit_depth": 16,
            "color": "Rec. 709 R'G'B', full range"},
}


def build(render, progress=None) -> tuple[str, dict, list[dict]]:
    """Join the render's frames once into every deliverable; returns (output sha256, qc, deliverables).

    Each deliverable is {"kind", "file" (storage name), "filename", "content_type", "size_bytes",
    "sha256", "files" (name, sha256, bytes of every file it holds), "format"}. Files go to a
    folder of this attempt's own, so a second attempt running at the same time (a redelivered
    job) never touches them; the attempt that records its result keeps them (`discard` the rest).
    """
    shot = render.shot
    names = file_names(render)
    attempt = uuid.uuid4().hex[:12]
    keyframe_indices = [k["frame"] for k in render.keyframes]
    checks = qc.FrameChecks(keyframe_indices)
    sheet = pictures.ContactSheet(shot.frame_count, keyframe_indices)
    digest = hashlib.sha256()
    png_files = []
    with tempfile.TemporaryDirectory(prefix="render-") as folder:
        folder = Path(folder)
        paths = {kind: folder / name for kind, name in names.items()}
        encoders = {"mp4": review_encoder(paths["mp4"], shot), "prores": prores_encoder(paths["prores"], shot)}
        with zipfile.ZipFile(paths["png"], "w", zipfile.ZIP_STORED) as archive:
            source = frames.iter_shot_luma(shot)
            for index in range(shot.frame_count):
                with default_storage.open(pipeline.frame_name(render, index), "rb") as handle:
                    data = handle.read()
                master = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)[..., ::-1]
                digest.update(np.ascontiguousarray(master).tobytes())
                luma = next(source)
                checks.add(master, luma)
                confidence = pipeline.confidence_name(render, index)
                if default_storage.exists(confidence):  # renders whose stretches kept none have none
                    checks.add_confidence(index, frames.read_png(confidence))
                sheet.add(index, master, luma)
                for encoder in encoders.values():
                    encoder.write(master)
                member = f"{storage.slug(shot.name)}.{render.sequence_start + index:04d}.png"
                info = zipfile.ZipInfo(member, date_time=_ZIP_TIME)
                archive.writestr(info, data)
                png_files.append({"name": member, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)})
                if progress:
                    progress(index + 1, shot.frame_count)
            for encoder in encoders.values():
                encoder.close()
        report = checks.summary()
        # The mezzanine is the broadcast master: its levels decide; the review copy's are reported.
        report["legal_range"] = {kind: {**qc.legal_range(paths[kind]), "decides": kind == "prores"}
                                 for kind in ("mp4", "prores")}
        report["passed"] = bool(report["luma"]["pass"] and report["flicker"]["pass"]
                                and all(r["pass"] for r in report["legal_range"].values() if r["decides"]))
        report["verdict"] = qc.verdict(report)
        storage.put(pipeline.picture_name(render, "contact-sheet"), sheet.jpeg())
        storage.put(pipeline.picture_name(render, "qc"), pictures.qc_chart(report))
        if checks.confidence:
            storage.put(pipeline.picture_name(render, "confidence"), pictures.confidence_sheet(
                checks.confidence, shot.frame_count, report["confidence"]["least_sure"]))
        made = []
        for kind, path in paths.items():
            stored = f"{render.storage_dir}/deliverables/{attempt}/{names[kind]}"
            with open(path, "rb") as handle:
                sha = hashlib.file_digest(handle, "sha256").hexdigest()
                handle.seek(0)
                stored = storage.put(stored, handle)
            file_entry = {"name": names[kind], "sha256": sha, "bytes": path.stat().st_size}
            extra = encoders[kind].notes if kind in encoders else {}
            made.append({"kind": kind, "file": stored,
                         "filename": names[kind], "content_type": CONTENT_TYPES[kind],
                         "size_bytes": path.stat().st_size, "sha256": sha,
                         "files": [file_entry] + (png_files if kind == "png" else []),
                         "format": {**FORMATS[kind], **extra}})
    return digest.hexdigest(), report, made


def discard(made: list[dict]) -> None:
    """Remove the files of an attempt whose result was not recorded."""
    for item in made:
        if default_storage.exists(item["file"]):
            default_storage.delete(item["file"])


def manifest(render, deliverable: dict) -> dict:
    """What a deliverable is, where it came from, and how to verify it."""
    shot = render.shot
    return {
        "deliverable": deliverable["kind"],
        "format": deliverable["format"],
        "files": deliverable["files"],
        "shot": {"id": shot.pk, "name": shot.name, "footage": shot.footage.name, "first_frame": shot.first_frame,
                 "frame_count": shot.frame_count, "width": shot.width, "height": shot.height,
                 "frame_rate": str(shot.frame_rate), "start_timecode": shot.start_timecode,
                 "sequence_start": render.sequence_start if deliverable["kind"] == "png" else None},
        "render": {"id": render.pk, "uid": str(render.uid),
                   "requested_by": getattr(render.requested_by, "username", None),
                   "started": render.started.isoformat() if render.started else None,
                   "inputs_sha256": render.inputs_hash, "frames_sha256": render.output_hash},
        "source": shot.footage.facts,
        "engines": render.engines,
        "keyframes": [{key: value for key, value in entry.items() if key != "hints"} for entry in render.keyframes],
        "quality_checks": {key: value for key, value in render.qc.items()},
    }


def manifest_json(data: dict) -> bytes:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False).encode()
