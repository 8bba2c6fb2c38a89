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
