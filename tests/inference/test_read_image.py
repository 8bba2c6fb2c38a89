"""One way to read an image file, for the studio and the `colorproj` commands alike: upright
(EXIF orientation applied) and within the decode limit, refused from its header."""
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from inference import media
from inference.keyframe import cli as keyframe_cli
from inference.propagation import cli as propagation_cli


def exif_jpeg(path, orientation: int):
    """Stored 64 wide, 40 high, a bright block at the top left; EXIF says how to show it."""
    stored = np.full((40, 64, 3), 40, np.uint8)
    stored[:10, :10] = 220
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(stored).save(path, quality=95, exif=exif)
    return path


def test_exif_orientation_is_applied_by_every_reader(tmp_path):
    path = exif_jpeg(tmp_path / "key.jpg", 6)  # 6: turn 90 degrees clockwise to show
    for image in (media.read_image(path), keyframe_cli.read_image(path),
                  propagation_cli.read_image(path, color=True), propagation_cli.read_image(path, color=False)):
        assert image.shape[:2] == (64, 40)
        assert image[:10, -10:].mean() > 180 and image[:10, :10].mean() < 80  # top left -> top right


def huge_png_header(path, width=20000, height=20000):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path


def test_an_image_over_the_decode_limit_is_refused_before_decoding(tmp_path):
    path = huge_png_header(tmp_path / "bomb.png")
    with pytest.raises(media.MediaError, match="too large to decode"):
        media.read_image(path)
    with pytest.raises(ValueError, match="too large"):
        keyframe_cli.read_image(path)
    with pytest.raises(propagation_cli.InputError, match="too large"):
        propagation_cli.read_image(path, color=False)
