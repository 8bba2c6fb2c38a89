"""Fixtures of the annotations tests (the project-wide ones are in tests/conftest.py)."""
import pytest

from tests.annotations.review_helpers import encode_with_audio


@pytest.fixture(scope="session")
def audio_clip(tmp_path_factory):
    """A tiny H.264 + AAC MOV with a start timecode, for audio passthrough checks."""
    return encode_with_audio(tmp_path_factory.mktemp("audio") / "reel_with_sound.mov")
