"""inference.media: timecode arithmetic and content sniffing (no Django needed)."""
from fractions import Fraction

import pytest

from inference.media import MediaError, frames_to_timecode, sniff, timecode_to_frames

NTSC = Fraction(30000, 1001)


@pytest.mark.parametrize("frames, timecode", [
    (0, "00:00:00;00"), (1799, "00:00:59;29"), (1800, "00:01:00;02"),  # frames ;00 and ;01 are skipped
    (17982, "00:10:00;00"), (107892, "01:00:00;00"),                   # ...except every tenth minute
])
def test_drop_frame_timecode(frames, timecode):
    assert frames_to_timecode(frames, NTSC) == timecode
    assert timecode_to_frames(timecode, NTSC) == frames


def test_non_drop_timecode():
    assert frames_to_timecode(86400, Fraction(24000, 1001)) == "01:00:00:00"
    assert timecode_to_frames("10:00:00:00", Fraction(25)) == 900000
    with pytest.raises(MediaError):
        timecode_to_frames("ten o'clock", Fraction(25))


def test_sniff_by_content(clips, tmp_path):
    renamed = tmp_path / "holiday.jpg"
    renamed.write_bytes(clips("mjpeg").read_bytes())
    assert sniff(renamed) == "video"
    assert sniff(clips("tiff_zip")) == "sequence"
    fake = tmp_path / "film.mov"
    fake.write_text("moov mdat ftyp")
    with pytest.raises(MediaError, match="not a video file"):
        sniff(fake)


def test_timecode_is_drop_frame_only_where_it_says_so():
    """29.97 with a non-drop timecode (':') counts every frame number (SMPTE ST 12-1)."""
    start = timecode_to_frames("00:00:59:15", NTSC)
    assert start == 59 * 30 + 15
    assert frames_to_timecode(start + 15, NTSC, drop=False) == "00:01:00:00"
    assert frames_to_timecode(timecode_to_frames("00:00:59;15", NTSC) + 15, NTSC) == "00:01:00;02"
    for bad in ("00:00:59:30", "00:61:00:00"):
        with pytest.raises(MediaError, match="out of range"):
            timecode_to_frames(bad, NTSC)


def _reduced(image, size):
    import cv2

    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _agree(source, size, tolerance=0.02):
    """`proxy_frames` gives what reducing the full frames gives: same shape and type, and the
    same picture within `tolerance` of the full range."""
    import numpy as np

    full = [_reduced(frame, size) for frame in source.frames()]
    proxies = list(source.proxy_frames(*size))
    assert len(proxies) == len(full) == source.info.frame_count
    scale = 65535.0 if full[0].dtype == np.uint16 else 255.0
    for made, wanted in zip(proxies, full):
        assert made.shape == wanted.shape == (size[1], size[0], 3) and made.dtype == wanted.dtype
        assert np.abs(made.astype(np.float64) - wanted).mean() / scale < tolerance


@pytest.mark.parametrize("kind", ["h264", "prores", "png_zip", "png16_zip", "tiff_zip", "jpeg_zip"])
@pytest.mark.parametrize("size", [(32, 24), (21, 17)])
def test_proxy_frames_are_the_reduced_frames(kind, size, clips):
    from inference.media import open_source

    _agree(open_source(clips(kind)), size)


def test_proxy_frames_are_upright(tmp_path):
    """A video's display matrix and an image's EXIF orientation turn the reduced frames too;
    gray and alpha images come as RGB, as their full frames do."""
    import io
    import zipfile

    import cv2
    import numpy as np
    from PIL import Image

    from inference.media import open_source
    from tests.annotations.test_conformance import encode_frames

    stored = np.full((48, 64, 3), 30, np.uint8)
    stored[:8, :8] = 230
    video = open_source(encode_frames(tmp_path / "turned.mp4", [stored] * 3, rotation=90))
    assert (video.info.width, video.info.height) == (48, 64)
    _agree(video, (24, 32))
    [first] = video.proxy_frames(24, 32, 0, 1)
    assert first[-2, 1].mean() > 150 and first[1, 1].mean() < 80  # the corner turned to the bottom left

    path = tmp_path / "oriented.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for number in (1, 2):
            data = io.BytesIO()
            exif = Image.Exif()
            exif[0x0112] = 6  # turn 90 degrees clockwise to show
            Image.fromarray(stored).save(data, "JPEG", quality=95, exif=exif)
            archive.writestr(f"frame_{number}.jpg", data.getvalue())
    sequence = open_source(path)
    assert (sequence.info.width, sequence.info.height) == (48, 64)
    _agree(sequence, (24, 32))
    [first] = sequence.proxy_frames(24, 32, 0, 1)
    assert first[1, -2].mean() > 150 and first[1, 1].mean() < 80  # top left -> top right

    for name, image in (("gray", stored[..., 0]), ("alpha", np.dstack([stored, np.full((48, 64), 9, np.uint8)]))):
        path = tmp_path / f"{name}.zip"
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("frame_1.png", cv2.imencode(".png", image)[1].tobytes())
        _agree(open_source(path), (32, 24))
