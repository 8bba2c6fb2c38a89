"""The upload check's memory is bounded by what a frame may need, not by what an archive declares."""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile

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
