"""Upload and ingest of good and bad files, through the real codec library."""
import io
import zipfile
from fractions import Fraction

import numpy as np
import pytest
from django.core.files.storage import default_storage

from annotations import frames
from annotations.footage.actions import ingest, split_footage, upload_footage
from annotations.errors import Conflict, Invalid
from annotations.models import AuditEvent, Footage, Shot

pytestmark = pytest.mark.django_db

GOOD = {
    # kind: (codec reported by probing, frame rate)
    "h264": ("h264", Fraction(24000, 1001)),
    "hevc": ("hevc", Fraction(24000, 1001)),
    "mpeg2": ("mpeg2video", Fraction(25)),
    "mjpeg": ("mjpeg", Fraction(24)),
    "ffv1": ("ffv1", Fraction(24)),
    "prores": ("prores", Fraction(24000, 1001)),
    "dnxhr": ("dnxhd", Fraction(25)),
    "png_zip": ("png", Fraction(24)),
    "png16_zip": ("png", Fraction(24)),
    "tiff_zip": ("tiff", Fraction(24)),
    "jpeg_zip": ("mjpeg", Fraction(24)),
}


def _ingest(project, users, upload, data, name="clip", split=False, **options):
    footage = upload_footage(project, users["producer"], upload(data, name), start_ingest=False, **options)
    return ingest(footage, split=split)


@pytest.mark.parametrize("kind", list(GOOD))
def test_ingest_good_files(kind, project, users, clips, upload):
    path = clips(kind)
    # A misleading name must not matter: what a file is comes from its content.
    footage = _ingest(project, users, upload, path.read_bytes(), name="notes.txt")
    assert footage.status == Footage.Status.READY, footage.error
    codec, rate = GOOD[kind]
    assert footage.codec == codec
    assert footage.frame_rate == rate
    size = (256, 144) if kind == "dnxhr" else (64, 48)
    assert (footage.width, footage.height, footage.frame_count) == (*size, 10)
    assert footage.kind == ("sequence" if kind.endswith("_zip") else "video")
    shot = footage.shots.get()
    assert (shot.first_frame, shot.frame_count, shot.width, shot.height) == (0, 10, *size)
    # Every frame has a proxy, and the full-resolution luma follows the source.
    for index in range(10):
        assert default_storage.exists(footage.proxy_name(index))
    luma = frames.shot_luma(shot, 7)
    assert luma.shape == size[::-1] and luma.dtype == np.float32
    proxy = frames.read_proxy(shot, 7).astype(np.float32) / 255
    tolerance = 0.12 if kind in ("mjpeg", "jpeg_zip", "mpeg2", "hevc") else 0.06
    assert np.abs(proxy - luma).mean() < tolerance
    # The original is kept untouched, under a name that is not the client's.
    assert footage.original.name.endswith("/original")
    with footage.original.open("rb") as stored:
        assert stored.read() == path.read_bytes()
    assert AuditEvent.objects.filter(verb="footage.ingested", target_id=str(footage.pk)).exists()


def test_prores_keeps_start_timecode_and_depth(project, users, clips, upload):
    footage = _ingest(project, users, upload, clips("prores").read_bytes())
    assert footage.start_timecode == "01:00:00:00"
    assert footage.pix_fmt.startswith("yuv422p10")
    shot = footage.shots.get()
    assert shot.start_timecode == "01:00:00:00"
    assert shot.timecode(5) == "01:00:00:05"
    # 10-bit sources are decoded to 16 bits, so luma keeps more than 256 levels of precision.
    first = next(frames.iter_shot_frames(shot))
    assert first.dtype == np.uint16


def test_sixteen_bit_sequence_luma_precision(project, users, clips, upload):
    footage = _ingest(project, users, upload, clips("png16_zip").read_bytes())
    frame = next(frames.iter_shot_frames(footage.shots.get()))
    assert frame.dtype == np.uint16


def test_sequence_frame_rate_option(project, users, clips, upload):
    footage = _ingest(project, users, upload, clips("png_zip").read_bytes(), frame_rate="24000/1001")
    assert footage.frame_rate == Fraction(24000, 1001)
    with pytest.raises(Invalid, match="frame rate"):
        _ingest(project, users, upload, clips("png_zip").read_bytes(), frame_rate="fast")


def test_frame_access_is_frame_accurate(project, users, clips, upload):
    """Random access by index returns the same picture as decoding in order."""
    footage = _ingest(project, users, upload, clips("two_scenes").read_bytes(), split=True)
    shots = list(footage.shots.order_by("first_frame"))
    in_order = [f for f in frames.iter_shot_luma(shots[1])]
    for index in (0, 3, len(in_order) - 1):
        np.testing.assert_allclose(frames.shot_luma(shots[1], index), in_order[index], atol=1e-6)
    np.testing.assert_allclose(list(frames.iter_shot_luma(shots[1], 2, 4)), in_order[2:4], atol=1e-6)


def test_random_access_seeks_frame_accurately_in_long_gop_video(project, users, clips, upload):
    footage = _ingest(project, users, upload, clips("h264_gop").read_bytes())
    shot = footage.shots.get()
    in_order = list(frames.iter_shot_luma(shot))
    assert len(in_order) == 24
    # Every frame differs from its neighbours (the disc moves), so an off-by-one would show.
    for index in (23, 0, 13, 4, 5, 17, 8):
        np.testing.assert_allclose(frames.shot_luma(shot, index), in_order[index], atol=1e-6)
    for start, stop in ((9, 14), (4, 5), (20, 24)):
        np.testing.assert_allclose(np.stack(list(frames.iter_shot_luma(shot, start, stop))),
                                   np.stack(in_order[start:stop]), atol=1e-6)


def test_scene_cuts_detected_and_split(project, users, clips, upload):
    footage = _ingest(project, users, upload, clips("two_scenes").read_bytes())
    assert footage.cuts == [8]
    assert footage.shots.count() == 1  # not split unless asked
    shots = split_footage(footage, users["producer"])
    assert [(s.first_frame, s.frame_count) for s in shots] == [(0, 8), (8, 8)]
    assert all(default_storage.exists(s.thumbnail) and default_storage.exists(s.filmstrip) for s in shots)
    assert shots[1].start_timecode == "00:00:00:08"
    # Custom cuts, validated.
    with pytest.raises(Invalid):
        split_footage(footage, users["producer"], [0])
    assert [s.frame_count for s in split_footage(footage, users["producer"], [4, 12])] == [4, 8, 4]
    assert AuditEvent.objects.filter(verb="footage.split").count() == 2


def test_split_refused_once_annotated(keyframe, users):
    with pytest.raises(Conflict, match="keyframes"):
        split_footage(keyframe.shot.footage, users["producer"], [5])
    assert Shot.objects.filter(footage=keyframe.shot.footage).count() == 1


# --- Bad files ---------------------------------------------------------------------------------

def _zip(members: dict, method=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _png(value=128, size=(48, 64)) -> bytes:
    import cv2

    return cv2.imencode(".png", np.full(size, value, np.uint8))[1].tobytes()


def _png_header(width, height) -> bytes:
    """A tiny PNG that declares a huge picture (decoding it would need tens of GB)."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _wav() -> bytes:
    import av

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="wav") as container:
        stream = container.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()


BAD_AT_UPLOAD = {
    "text": (b"this is not a video at all\n" * 20, "not a video file"),
    "empty": (b"", "not a video file"),
    "audio only": (None, "no video stream"),
    "path traversal zip": (_zip({"../../etc/evil.png": _png()}), "unsafe path"),
    "absolute path zip": (_zip({"/tmp/evil.png": _png()}), "unsafe path"),
    "zip bomb": (_zip({"frame_0001.png": b"\0" * 20_000_000}), "zip bomb"),
    "zip of text": (_zip({"readme.txt": b"hello"}), "not a PNG, TIFF or JPEG"),
    "empty zip": (_zip({}), "no images"),
    "pixel bomb": (_zip({"f_0001.png": _png_header(100_000, 100_000)}), "too large"),
}


@pytest.mark.parametrize("case", list(BAD_AT_UPLOAD))
def test_bad_files_rejected_at_upload(case, project, users, upload):
    data, message = BAD_AT_UPLOAD[case]
    data = _wav() if data is None else data
    stored_before = _stored_footage()
    with pytest.raises(Invalid, match=message):
        upload_footage(project, users["producer"], upload(data, "film.mp4"))
    assert not Footage.objects.exists()
    assert _stored_footage() == stored_before  # nothing kept


def _stored_footage() -> set:
    return set(default_storage.listdir("footage")[0]) if default_storage.exists("footage") else set()


def test_truncated_video_fails_cleanly(project, users, clips, upload):
    """A file that starts like video but breaks off: ingest fails with a message, no shot is left."""
    data = clips("mpeg2").read_bytes()
    footage = _ingest(project, users, upload, data[: len(data) // 3])
    if footage.status == Footage.Status.READY:
        # MPEG-2 program streams decode up to the break; what is there must be consistent.
        assert footage.shots.get().frame_count == footage.frame_count < 10
    else:
        assert footage.error and not footage.shots.exists()


def test_sequence_with_mixed_sizes_fails_without_partial_shot(project, users, upload):
    data = _zip({"f_0001.png": _png(), "f_0002.png": _png(size=(40, 64)), "f_0003.png": _png()})
    footage = _ingest(project, users, upload, data)
    assert footage.status == Footage.Status.FAILED
    assert "f_0002.png" in footage.error and "64x40" in footage.error
    assert not Shot.objects.exists()
    assert not default_storage.exists(footage.proxy_name(0))  # derivatives removed
    assert AuditEvent.objects.filter(verb="footage.failed").exists()


def test_sequence_ignores_folders_and_mac_metadata_and_sorts_naturally(project, users, upload):
    # Natural order 9, 10, 11 (by text it would be 10, 11, 9); no number missing.
    data = _zip({"a/f_11.png": _png(30), "a/f_9.png": _png(10), "a/f_10.png": _png(20),
                 "__MACOSX/a/._f_9.png": b"junk", "a/.DS_Store": b"junk"})
    footage = _ingest(project, users, upload, data)
    assert footage.status == Footage.Status.READY, footage.error
    shot = footage.shots.get()
    levels = [round(float(luma.mean()) * 255) for luma in frames.iter_shot_luma(shot)]
    assert levels == [10, 20, 30]


def test_ingest_is_idempotent(project, users, clips, upload):
    footage = _ingest(project, users, upload, clips("h264").read_bytes())
    again = ingest(footage)  # e.g. a redelivered job
    assert again.status == Footage.Status.READY and again.shots.count() == 1


def test_progress_is_broadcast(project, users, clips, upload, django_capture_on_commit_callbacks):
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from annotations import events

    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(events.project_group(project.pk), channel)
    with django_capture_on_commit_callbacks(execute=True):
        _ingest(project, users, upload, clips("h264").read_bytes())
    received = []
    while True:
        try:
            received.append(async_to_sync(_receive)(layer, channel))
        except TimeoutError:
            break
    kinds = [m["event"] for m in received]
    assert "footage.progress" in kinds and "footage.ingested" in kinds
    assert all(m["type"] == "studio.event" for m in received)


async def _receive(layer, channel):
    import asyncio

    return await asyncio.wait_for(layer.receive(channel), 0.5)
