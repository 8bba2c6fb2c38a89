"""Hostile and broken uploads, made by the tests, sent through the real upload path (multipart ->
size-limited temporary file -> content sniffing -> storage -> ingest).

Each one gets a clear {"detail": ...} refusal at upload, or is accepted and then fails its ingest
with a clear error; either way nothing crashes (no 5xx), no shot is left behind, the upload's
temporary file is gone, and nothing is written outside media storage.
"""
from __future__ import annotations

import io
import stat
import struct
import uuid
import zipfile
import zlib
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from django.urls import reverse

from annotations.demo import synthetic_reel
from tests.conftest import encode, image_zip
from tests.security.conftest import png_bytes

pytestmark = pytest.mark.django_db

ESCAPE = f"colorproj-escape-{uuid.uuid4().hex[:8]}"  # a name no legitimate write would produce


# --- The corpus -------------------------------------------------------------------------------

def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height (a pixel bomb: the body is a few bytes)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b"")


def _zip(path: Path, members: dict, *, compression=zipfile.ZIP_DEFLATED, symlinks: dict | None = None) -> Path:
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3  # unix: the mode below marks a symbolic link
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return path


def _frames_png(count=3):
    import cv2

    return [cv2.imencode(".png", image[..., ::-1])[1].tobytes() for image in synthetic_reel(64, 48, count, scenes=1)]


def _no_frames(path: Path) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        container.start_encoding()  # the header is written, no frame ever is
    return path


def _pix_fmt_clip(folder: Path, pix_fmt: str, codec="ffv1", ext="mkv") -> Path:
    return encode(folder / f"odd-{pix_fmt}.{ext}", synthetic_reel(64, 48, 4, scenes=1), codec,
                  rate=Fraction(24), pix_fmt=pix_fmt)


def _corrupt(data: bytes, seed=7) -> bytes:
    rng = np.random.default_rng(seed)
    buf = bytearray(data)
    start = len(buf) // 3
    buf[start:start + len(buf) // 3] = rng.integers(0, 256, len(buf) // 3, dtype=np.uint8).tobytes()
    return bytes(buf)


def corpus(folder: Path, clips) -> dict[str, tuple[str, bytes]]:
    """name -> (file name as uploaded, content)."""
    h264 = clips("h264").read_bytes()
    frames = _frames_png()
    bomb = b"\x00" * (64 * 2**20)  # 64 MiB of zeros: deflates ~1000:1
    cases = {
        "empty file": ("clip.mp4", b""),
        "text named .mp4": ("clip.mp4", b"this is not a video\n" * 100),
        "html named .mov": ("clip.mov", b"<html><script>alert(1)</script></html>"),
        "truncated mp4 (header only)": ("clip.mp4", h264[:200]),
        "truncated mp4 (first half)": ("clip.mp4", h264[: len(h264) // 2]),
        "corrupt mp4 (middle third random)": ("clip.mp4", _corrupt(h264)),
        "random bytes": ("clip.avi", np.random.default_rng(1).integers(0, 256, 50_000, dtype=np.uint8).tobytes()),
        "mp4 with zero frames": ("clip.mp4", _no_frames(folder / "empty.mp4").read_bytes()),
        "zip bomb": ("scan.zip", _zip(folder / "bomb.zip", {"frame_0001.png": bomb}).read_bytes()),
        "zip path traversal (..)": ("scan.zip", _zip(folder / "dots.zip", {
            "frame_0001.png": frames[0], f"../../{ESCAPE}.png": frames[1]}).read_bytes()),
        "zip absolute path": ("scan.zip", _zip(folder / "abs.zip", {
            "frame_0001.png": frames[0], f"/tmp/{ESCAPE}.png": frames[1]}).read_bytes()),
        "zip windows drive path": ("scan.zip", _zip(folder / "drive.zip", {
            "frame_0001.png": frames[0], f"C:\\{ESCAPE}.png": frames[1]}).read_bytes()),
        "zip symlink to /etc/passwd": ("scan.zip", _zip(folder / "link.zip", {"frame_0001.png": frames[0]},
                                                          symlinks={"frame_0002.png": "/etc/passwd"}).read_bytes()),
        "zip symlink out of the archive": ("scan.zip", _zip(folder / "link2.zip", {},
                                                              symlinks={"frame_0001.png": f"../../{ESCAPE}"}
                                                              ).read_bytes()),
        "zip of text files": ("scan.zip", _zip(folder / "text.zip", {"a.png": b"hello", "b.png": b"world"}).read_bytes()),
        "empty zip": ("scan.zip", _zip(folder / "none.zip", {}).read_bytes()),
        "zip of only mac metadata": ("scan.zip", _zip(folder / "mac.zip", {"__MACOSX/._a.png": frames[0],
                                                                             ".hidden.png": frames[0]}).read_bytes()),
        "zip with a corrupt later frame": ("scan.zip", _zip(folder / "late.zip", {
            "frame_0001.png": frames[0], "frame_0002.png": frames[1], "frame_0003.png": frames[2][:60]}).read_bytes()),
        "zip with frames of mixed sizes": ("scan.zip", _zip(folder / "mixed.zip", {
            "frame_0001.png": frames[0], "frame_0002.png": png_bytes((32, 32))}).read_bytes()),
        "zip pixel bomb (100000x100000 header)": ("scan.zip", _zip(folder / "pixels.zip", {
            "frame_0001.png": _png_header(100_000, 100_000)}).read_bytes()),
        "truncated zip": ("scan.zip", image_zip(folder / "cut.zip", synthetic_reel(64, 48, 3, scenes=1),
                                                "png").read_bytes()[:-40]),
        "encrypted zip member": ("scan.zip", _encrypted_zip(frames[0])),
        "zip member with a bad CRC-32": ("scan.zip", _bad_crc_zip(folder / "crc.zip", frames[0])),
    }
    return cases


def _bad_crc_zip(path: Path, frame: bytes) -> bytes:
    """A stored (uncompressed) member with one flipped byte: the zip's CRC-32 no longer matches."""
    archive = bytearray(_zip(path, {"frame_0001.png": frame}, compression=zipfile.ZIP_STORED).read_bytes())
    archive[archive.index(frame) + len(frame) // 2] ^= 0xFF
    return bytes(archive)


def _encrypted_zip(data: bytes) -> bytes:
    """A zip whose member is flagged as encrypted (the flag is what readers go by)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("frame_0001.png", data)
    raw = bytearray(buf.getvalue())
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = raw.find(signature)
        raw[at + offset] |= 0x1
    return bytes(raw)


ODD_PIX_FMTS = ["gray", "gray16le", "yuv410p", "yuva420p", "bgr0", "yuv444p16le", "rgb48le"]


# --- Helpers ----------------------------------------------------------------------------------

@pytest.fixture
def upload_tmp(settings, tmp_path):
    folder = tmp_path / "upload-tmp"
    folder.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(folder)
    return folder


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def _escaped() -> list[str]:
    """Files named ESCAPE anywhere a traversal could have put them."""
    from django.conf import settings

    roots = {Path("/tmp"), Path(settings.MEDIA_ROOT).parent, Path(settings.BASE_DIR), Path.cwd()}
    found = []
    for root in roots:
        for depth in ("", "*/", "*/*/"):
            found += [str(p) for p in root.glob(f"{depth}{ESCAPE}*")]
    return found


def _send(client, project, name, data):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(reverse("api:project-footage", args=[project.pk]),
                       {"file": SimpleUploadedFile(name, data, content_type="application/octet-stream")},
                       format="multipart")


def _message(response) -> str:
    """{"detail": message}, or DRF's per-field errors ({"file": [message]})."""
    body = response.json()
    if "detail" in body:
        return body["detail"]
    (field, messages), = body.items()
    return f"{field}: {messages[0]}"


def _check(response, project, upload_tmp, media_before, media_root):
    """The common promises; returns the Footage row when the upload was accepted."""
    from annotations.footage.actions import ingest
    from annotations.models import Footage, Shot

    assert response.status_code < 500, response.content
    assert list(upload_tmp.iterdir()) == [], "the upload's temporary file was left behind"
    assert not _escaped(), f"a file was written outside media storage: {_escaped()}"
    if response.status_code != 202:
        assert response.status_code in (400, 413), response.content
        detail = _message(response)
        assert isinstance(detail, str) and 10 < len(detail) < 400, detail
        assert "Traceback" not in detail
        assert not Footage.objects.filter(project=project).exists()
        assert _files(media_root) == media_before, "a refused upload left a file in storage"
        return None
    footage = Footage.objects.get(pk=response.json()["id"])
    ingest(footage)
    footage.refresh_from_db()
    assert footage.status in (Footage.Status.READY, Footage.Status.FAILED)
    if footage.status == Footage.Status.FAILED:
        assert footage.error and "Traceback" not in footage.error and len(footage.error) < 400, footage.error
        assert not Shot.objects.filter(footage=footage).exists(), "a failed ingest left a shot behind"
        leftovers = [f for f in _files(media_root) - media_before if not f.startswith(footage.original.name)]
        assert not leftovers, f"a failed ingest left derived files: {leftovers[:5]}"
    else:
        assert footage.frame_count > 0 and Shot.objects.filter(footage=footage).count() == 1
    assert not _escaped()
    return footage


# --- Tests ------------------------------------------------------------------------------------

# What each case must get: "refused" at upload, "failed" ingest, or "either" of the two.
EXPECTED = {
    "empty file": "refused",
    "text named .mp4": "refused",
    "html named .mov": "refused",
    "truncated mp4 (header only)": "refused",
    "truncated mp4 (first half)": "either",
    "corrupt mp4 (middle third random)": "any",  # decoders conceal damage: it may even ingest
    "random bytes": "refused",
    "mp4 with zero frames": "refused",
    "zip bomb": "refused",
    "zip path traversal (..)": "refused",
    "zip absolute path": "refused",
    "zip windows drive path": "refused",
    "zip symlink to /etc/passwd": "either",
    "zip symlink out of the archive": "refused",
    "zip of text files": "refused",
    "empty zip": "refused",
    "zip of only mac metadata": "refused",
    "zip with a corrupt later frame": "failed",
    "zip with frames of mixed sizes": "failed",
    "zip pixel bomb (100000x100000 header)": "refused",
    "truncated zip": "refused",
    "encrypted zip member": "refused",
    "zip member with a bad CRC-32": "refused",  # was a 500 (zipfile.BadZipFile escaped the check)
}


def test_hostile_upload_corpus(project, users, client_for, clips, tmp_path, upload_tmp, media_root):
    producer = client_for(users["producer"])
    cases = corpus(tmp_path, clips)
    assert set(cases) == set(EXPECTED)
    outcomes, wrong = {}, []
    for name, (filename, data) in cases.items():
        before = _files(media_root)
        response = _send(producer, project, filename, data)
        footage = _check(response, project, upload_tmp, before, media_root)
        outcome = "refused" if footage is None else footage.status.replace("ready", "ingested")
        outcomes[name] = outcome
        want = EXPECTED[name]
        if want != "any" and outcome != want and not (want == "either" and outcome in ("refused", "failed")):
            detail = _message(response) if footage is None else footage.error
            wrong.append(f"{name}: {outcome} ({detail}), expected {want}")
        if footage is not None:
            from annotations.models import Footage

            Footage.objects.filter(pk=footage.pk).delete()
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("pix_fmt", ODD_PIX_FMTS)
def test_odd_pixel_formats_ingest_by_their_luma(pix_fmt, project, users, client_for, tmp_path, upload_tmp,
                                                media_root):
    path = _pix_fmt_clip(tmp_path, pix_fmt)
    before = _files(media_root)
    footage = _check(_send(client_for(users["producer"]), project, path.name, path.read_bytes()), project,
                     upload_tmp, before, media_root)
    assert footage is not None and footage.status == "ready", getattr(footage, "error", None)
    from annotations import frames

    shot = footage.shots.get()
    luma = frames.shot_luma(shot, 1)
    assert luma.shape == (48, 64) and 0.0 <= float(luma.min()) and float(luma.max()) <= 1.0


def test_frames_larger_than_the_limit_are_refused(project, users, client_for, clips, settings, tmp_path,
                                                  upload_tmp, media_root):
    """Huge frame sizes are refused by their header, before any frame is decoded."""
    settings.COLORPROJ_MAX_FRAME_PIXELS = 40 * 30  # smaller than the 64x48 clips
    producer = client_for(users["producer"])
    video = _send(producer, project, "clip.mp4", clips("h264").read_bytes())
    sequence = _send(producer, project, "scan.zip", clips("png_zip").read_bytes())
    for response in (video, sequence):
        assert response.status_code == 400, response.content
        assert "64x48" in response.json()["detail"] and "limit" in response.json()["detail"]
    _check(video, project, upload_tmp, _files(media_root), media_root)


def test_upload_over_the_size_limit(project, users, client_for, clips, settings, upload_tmp, media_root):
    settings.COLORPROJ_MAX_UPLOAD_BYTES = 1000
    before = _files(media_root)
    response = _send(client_for(users["producer"]), project, "clip.mp4", clips("h264").read_bytes())
    assert response.status_code == 413 and "1000 bytes" in response.json()["detail"]
    _check(response, project, upload_tmp, before, media_root)


@pytest.mark.parametrize("filename, data", [
    ("scan.png", b"<html><script>alert(document.cookie)</script></html>"),
    ("scan.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
    ("scan.png", b""),
])
def test_hostile_reference_attachments(filename, data, project, users, client_for, media_root):
    """Attachments are judged by content: a script dressed as an image is refused, not stored."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from annotations.projects.actions import create_reference
    from annotations.models import ReferenceAttachment

    reference = create_reference(project, users["manager"], name="Tunic", color="#8a2a1e", source_kind="archive",
                                 citation="box 1")
    before = _files(media_root)
    response = client_for(users["annotator"]).post(
        reverse("api:reference-attachments", args=[reference.pk]),
        {"file": SimpleUploadedFile(filename, data, content_type="image/png")}, format="multipart")
    assert response.status_code == 400, response.content
    assert not ReferenceAttachment.objects.exists()
    assert _files(media_root) == before


def test_attachments_are_served_as_what_they_are(project, users, client_for):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from annotations.projects.actions import add_attachment, create_reference

    reference = create_reference(project, users["manager"], name="Tunic", color="#8a2a1e", source_kind="archive",
                                 citation="box 1")
    attachment = add_attachment(reference, users["manager"],
                                SimpleUploadedFile("x.html", png_bytes(), content_type="text/html"))
    response = client_for(users["reviewer"]).get(reverse("api:attachment-detail", args=[attachment.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png" and response["X-Content-Type-Options"] == "nosniff"
    b"".join(response.streaming_content)
