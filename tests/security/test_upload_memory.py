"""The upload check's memory is bounded by what a frame may need, not by what an archive declares;
the ingest's does not follow the frame size."""
from __future__ import annotations

import os
import struct
import subprocess
import sys
import zipfile
import zlib

import numpy as np
import pytest
from django.urls import reverse

from tests.security.conftest import png_bytes

pytestmark = pytest.mark.django_db
PEAK_LIMIT_MB = 300
CHECK = """
import sys
from inference.media import MediaError, sniff
try:
    print("accepted:", sniff(sys.argv[1]))
except MediaError as exc:
    print("refused:", exc)
peak = [line for line in open("/proc/self/status") if line.startswith("VmHWM:")][0].split()[1]
print("peak_kb:", peak)
"""


def near_limit_zip(path, member_bytes: int = 2**30 - 2**20):
    """A small PNG padded to just under 1 GiB, compressed just under the ratio limit (~500:1):
    a zip of about 2 MB. Written in chunks, so the test itself stays small."""
    rng = np.random.default_rng(3)
    image = png_bytes((48, 64))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("frame_0001.png", "w", force_zip64=True) as member:
            member.write(image)
            left = member_bytes - len(image)
            while left > 0:
                chunk = min(left, 2**20)
                member.write(rng.integers(0, 256, 1100, dtype=np.uint8).tobytes() + bytes(chunk - 1100))
                left -= chunk
    info = zipfile.ZipFile(path).infolist()[0]
    assert 200 < info.file_size / info.compress_size < 1000  # passes the zip-bomb ratio check
    return path


def test_the_check_of_a_near_limit_zip_stays_small(tmp_path):
    path = near_limit_zip(tmp_path / "scan.zip")
    out = subprocess.run([sys.executable, "-c", CHECK, str(path)], capture_output=True, text=True, timeout=300,
                         cwd=os.getcwd(), check=True).stdout
    peak_mb = int(out.split("peak_kb:")[1]) / 1024
    assert "refused:" in out and "more data than" in out, out
    assert peak_mb < PEAK_LIMIT_MB, f"the upload check peaked at {peak_mb:.0f} MB"


def test_the_near_limit_zip_is_refused_at_upload(project, users, client_for, tmp_path):
    path = near_limit_zip(tmp_path / "scan.zip")
    with open(path, "rb") as handle:
        response = client_for(users["producer"]).post(
            reverse("api:project-footage", args=[project.pk]), {"file": handle}, format="multipart")
    assert response.status_code == 400 and "more data than" in response.json()["detail"]


def test_a_frame_at_the_configured_limit_is_admitted(project, users, client_for, settings, tmp_path):
    """The frame limit in the settings is what is really accepted (it claimed 16384x16384, which
    the image decoder refused in every form)."""
    import math

    import cv2

    side = math.isqrt(settings.COLORPROJ_MAX_FRAME_PIXELS)
    path = tmp_path / "scan.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("frame_0001.png", cv2.imencode(".png", np.zeros((side, side), np.uint8))[1].tobytes())
    with open(path, "rb") as handle:
        response = client_for(users["producer"]).post(
            reverse("api:project-footage", args=[project.pk]), {"file": handle, "name": "limit"}, format="multipart")
    assert response.status_code == 202, response.content


INGEST = """
import os, sys, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "colorproj.settings")
django.setup()
from annotations.footage.actions import ingest
from annotations.models import Footage

def kb(field):
    return int([line for line in open("/proc/self/status") if line.startswith(field)][0].split()[1])

footage = Footage.objects.get(pk=int(sys.argv[1]))
before = kb("VmRSS:")
footage = ingest(footage)
print("status:", footage.status, footage.error)
print("added_kb:", kb("VmHWM:") - before)
"""
INGEST_ADDED_LIMIT_MB = 250


def streamed_png(path, side: int, level: int):
    """A 16-bit RGB PNG of side x side, the top half at `level`, the bottom half black, written
    row by row (the test never holds the picture)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    top, bottom = b"\0" + struct.pack(">H", level) * 3 * side, b"\0" * (1 + 6 * side)
    packer, parts = zlib.compressobj(1), []
    for row in range(side):
        parts.append(packer.compress(top if row < side // 2 else bottom))
    parts.append(packer.flush())
    with open(path, "wb") as handle:
        handle.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 16, 2, 0, 0, 0))
                     + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b""))
    return path


@pytest.fixture
def limit_sequence(settings, tmp_path):
    """A zip of three 16-bit RGB frames at the largest size the settings admit (8192x8192)."""
    import math

    side = math.isqrt(settings.COLORPROJ_MAX_FRAME_PIXELS)
    path = tmp_path / "scan.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for number, level in enumerate((40000, 50000, 60000), start=1):
            archive.write(streamed_png(tmp_path / "frame.png", side, level), f"frame_{number:04d}.png")
    return path, side


def test_the_check_of_frames_at_the_size_limit_stays_small(limit_sequence):
    """The upload check decodes the first frame (an archive of files that only claim to be
    images is refused) by streaming. It was: decoded whole, twice (over 800 MB)."""
    path, _ = limit_sequence
    out = subprocess.run([sys.executable, "-c", CHECK, str(path)], capture_output=True, text=True, timeout=300,
                         cwd=os.getcwd(), check=True).stdout
    assert "accepted: sequence" in out, out
    peak_mb = int(out.split("peak_kb:")[1]) / 1024
    assert peak_mb < PEAK_LIMIT_MB, f"the upload check peaked at {peak_mb:.0f} MB"


@pytest.mark.django_db(transaction=True)
def test_ingesting_frames_at_the_size_limit_stays_small(project, users, upload, limit_sequence):
    """Sixteen-bit frames at the size limit: the ingest decodes each while reducing it to the
    proxy, so its memory does not follow the frame. It was: every frame decoded whole, then made
    luma in floating point at full size, about 1.9 GB for these."""
    from annotations import frames
    from annotations.footage.actions import upload_footage
    from annotations.models import Footage
    from tools.processes import child_env

    path, side = limit_sequence
    footage = upload_footage(project, users["producer"], upload(path), name="8K scan", start_ingest=False)
    out = subprocess.run([sys.executable, "-c", INGEST, str(footage.pk)], capture_output=True, text=True,
                         timeout=600, cwd=os.getcwd(), env=child_env(), check=True).stdout
    added_mb = int(out.split("added_kb:")[1]) / 1024
    footage.refresh_from_db()
    assert footage.status == Footage.Status.READY, out
    assert (footage.width, footage.height, footage.frame_count) == (side, side, 3)
    assert added_mb < INGEST_ADDED_LIMIT_MB, f"ingesting {side}x{side} frames added {added_mb:.0f} MB"
    proxy = frames.read_proxy(footage.shots.get(), 2)  # the top half at 60000 of 65535, the bottom black
    assert proxy.shape == (footage.proxy_height, footage.proxy_width)
    assert abs(int(proxy[: proxy.shape[0] // 3].mean()) - round(60000 / 65535 * 255)) <= 1
    assert proxy[-proxy.shape[0] // 3:].max() == 0
