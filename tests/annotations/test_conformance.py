"""Broadcast conformance of sources: sound of any channel count and container, in sync to the
sample whatever the streams' start offsets. Every input is made here with PyAV."""
import zipfile
from fractions import Fraction

import av
import cv2
import numpy as np
import pytest
from django.test import Client
from django.urls import reverse

from annotations import frames
from annotations.footage.actions import ingest, upload_footage
from annotations.models import Footage
from annotations.render import deliverables
from tests.conftest import image_zip

pytestmark = pytest.mark.django_db
RATE, SAMPLE_RATE, FRAMES = 24, 48000, 24
BURST_FRAME = 10  # the frame a 1 kHz burst belongs to


def make_source(path, *, channels=2, layout="stereo", video_start=0, codec="pcm_s16le", streams=1):
    """24 frames at 24 fps (the picture starting `video_start` frames after the sound) and
    `streams` PCM sound streams: silence, but a 1 kHz burst (cosine phase: loud from its first
    sample) from the presentation time of frame BURST_FRAME on, louder in each next stream."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=RATE)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        video.options = {"threads": "1"}
        total = (FRAMES + video_start) * SAMPLE_RATE // RATE
        at = (video_start + BURST_FRAME) * SAMPLE_RATE // RATE
        tracks = [container.add_stream(codec, rate=SAMPLE_RATE) for _ in range(streams)]
        sounds = []
        for number, audio in enumerate(tracks):
            audio.layout = layout
            sound = np.zeros((channels, total), np.float32)
            sound[:, at:at + 960] = (0.4 + 0.2 * number) * np.cos(2 * np.pi * 1000 * np.arange(960) / SAMPLE_RATE)
            sounds.append(np.rint(sound * 32767).astype(np.int16))
        for start in range(0, total, 1000):
            packets = []  # every track's encoder opens before the first packet is muxed
            for audio, packed in zip(tracks, sounds):
                block = np.ascontiguousarray(packed[:, start:start + 1000].T.reshape(1, -1))
                frame = av.AudioFrame.from_ndarray(block, format="s16", layout=layout)
                frame.sample_rate, frame.pts = SAMPLE_RATE, start
                packets += audio.encode(frame)
            container.mux(packets)
        for audio in tracks:
            container.mux(audio.encode(None))
        for index in range(FRAMES):
            image = np.full((48, 64, 3), 40 + 8 * index, np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = video_start + index
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
    return path


def deliver(project, users, upload, tmp_path, source):
    footage = upload_footage(project, users["producer"], upload(source), name="Field", start_ingest=False)
    ingest(footage)
    assert footage.status == "ready", footage.error
    shot = footage.shots.get()
    made = {}
    for kind, suffix, make in (("prores", "mov", deliverables.prores_encoder), ("mp4", "mp4", deliverables.review_encoder)):
        encoder = make(tmp_path / f"out.{suffix}", shot)
        for _ in range(shot.frame_count):
            encoder.write(np.full((shot.height, shot.width, 3), 30000, np.uint16))
        encoder.close()
        made[kind] = (tmp_path / f"out.{suffix}", encoder.notes)
    return shot, made


def post_upload(client, project, path):
    """The footage upload API's answer to the file at `path`."""
    with open(path, "rb") as handle:
        return client.post(reverse("api:project-footage", args=[project.pk]), {"file": handle}, format="multipart")


def decoded(path, index=0) -> np.ndarray:
    """float (channels, samples) of audio stream `index`."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[index]
        channels, blocks = stream.codec_context.channels, []
        for frame in container.decode(stream):  # the deliverables' layouts are standard ones
            samples = frame.to_ndarray()
            samples = samples if frame.format.is_planar else samples.reshape(-1, channels).T
            scale = float(1 << (8 * samples.dtype.itemsize - 1)) if samples.dtype.kind == "i" else 1.0
            blocks.append(samples.astype(np.float32) / scale)
        return np.concatenate(blocks, axis=1)


def burst_onset(sound: np.ndarray) -> int:
    loud = np.flatnonzero(np.abs(sound).max(axis=0) > 0.1)
    assert loud.size, "the burst is missing from the delivered sound"
    return int(loud[0])


@pytest.mark.parametrize("name, channels, layout", [("surround.mov", 8, "7.1"), ("nolayout.mkv", 2, "stereo")])
def test_pcm_of_any_channel_count_and_container_is_delivered(project, users, upload, tmp_path, name, channels,
                                                              layout):
    """7.1 PCM crashed the sound resampling; PCM in Matroska (no channel layout) failed the AAC encoder."""
    source = make_source(tmp_path / name, channels=channels, layout=layout)
    shot, made = deliver(project, users, upload, tmp_path, source)
    expected = FRAMES * SAMPLE_RATE // RATE
    master, info = made["prores"]
    with av.open(str(master)) as container:
        track = container.streams.audio[0].codec_context
        assert (track.name, track.channels) == ("pcm_s24le", channels)
    sound = decoded(master)
    assert sound.shape == (channels, expected) and info["audio_tracks"][0]["channels"] == channels
    assert burst_onset(sound) == BURST_FRAME * SAMPLE_RATE // RATE
    review, info = made["mp4"]
    assert info["audio_codec"] == "aac" and decoded(review).shape[0] == min(channels, 2)


def test_sound_starting_before_the_picture_stays_in_sync(project, users, upload, tmp_path):
    """The picture starts 12 frames (0.5 s) after the sound: the burst of frame 10 lands on frame 10."""
    source = make_source(tmp_path / "offset.mov", video_start=12)
    shot, made = deliver(project, users, upload, tmp_path, source)
    assert shot.frame_count == FRAMES
    at = BURST_FRAME * SAMPLE_RATE // RATE
    assert burst_onset(decoded(made["prores"][0])) == at  # PCM: to the sample
    # AAC: up to its priming and filter delay, well under a frame (2000 samples).
    assert abs(burst_onset(decoded(made["mp4"][0])) - at) < 2048 + 200


def test_every_sound_stream_is_in_the_master_as_pcm(project, users, upload, tmp_path):
    source = make_source(tmp_path / "two_tracks.mov", streams=2)
    _, made = deliver(project, users, upload, tmp_path, source)
    master, info = made["prores"]
    assert len(info["audio_tracks"]) == 2
    at = BURST_FRAME * SAMPLE_RATE // RATE
    for index, level in ((0, 0.4), (1, 0.6)):
        sound = decoded(master, index)
        assert burst_onset(sound) == at and abs(np.abs(sound).max() - level) < 0.01


def test_a_non_drop_timecode_at_2997_stays_non_drop(project, users, upload, tmp_path):
    """The source states 00:00:59:15 non-drop: frame 15 is 00:01:00:00, not 00:01:00;02."""
    from tests.conftest import encode

    from annotations.demo import synthetic_reel

    clip = encode(tmp_path / "ntsc.mov", synthetic_reel(64, 48, 20, scenes=1), "libx264",
                  rate=Fraction(30000, 1001), timecode="00:00:59:15")
    footage = upload_footage(project, users["producer"], upload(clip), name="NTSC", start_ingest=False)
    ingest(footage)
    shot = footage.shots.get()
    assert (shot.start_timecode, shot.timecode(15)) == ("00:00:59:15", "00:01:00:00")
    encoder = deliverables.prores_encoder(tmp_path / "master.mov", shot)
    for _ in range(shot.frame_count):
        encoder.write(np.full((shot.height, shot.width, 3), 30000, np.uint16))
    encoder.close()
    with av.open(str(tmp_path / "master.mov")) as container:
        assert container.streams.video[0].metadata["timecode"] == "00:00:59:15"


def custom_order(path):
    """Relabel the 7.1 of a MOV made by `make_source` as FFmpeg reads a 7.1 recorder's file: the
    'chan' atom's channel bitmap (FFmpeg's native order) becomes the layout tag MPEG_7_1_C, which
    reads back as the custom order FL+FR+FC+LFE+SL+SR+BL+BR."""
    data = path.read_bytes()
    bitmap = b"chan" + bytes(4) + (0x10000).to_bytes(4, "big") + (0x63F).to_bytes(4, "big")
    assert data.count(bitmap) == 1, "make_source's 7.1 MOV has one bitmap 'chan' atom"
    path.write_bytes(data.replace(bitmap, b"chan" + bytes(4) + ((128 << 16) | 8).to_bytes(4, "big") + bytes(4)))
    return path


@pytest.mark.django_db(transaction=True)
def test_7_1_pcm_in_a_custom_channel_order_is_ingested_and_delivered(project, users, upload, background_jobs,
                                                                     tmp_path):
    """PyAV corrupts its heap on a custom-order layout: reading this file's channel count or
    decoding it killed the ingest (SIGABRT), and, before jobs ran in child processes, the server."""
    from annotations import storage
    from annotations.models import Render
    from annotations.render.actions import start_render
    from tests.annotations.review_helpers import approve_all, wait_render

    source = custom_order(make_source(tmp_path / "recorder.mov", channels=8, layout="7.1"))
    footage = background_jobs.wait_footage(upload_footage(project, users["producer"], upload(source), name="Recorder"))
    assert footage.status == "ready", footage.error
    assert footage.facts["sound"][0]["channels"] == 8
    shot = footage.shots.get()
    approve_all(shot, users, frames=(2,))
    render = wait_render(start_render(shot, users["producer"]), worker=background_jobs.worker)
    assert render.status == Render.Status.DONE, render.error
    with storage.local_path(render.deliverables.get(kind="prores").file) as master:
        sound = decoded(master)
    assert sound.shape == (8, FRAMES * SAMPLE_RATE // RATE)
    at = BURST_FRAME * SAMPLE_RATE // RATE
    assert abs(burst_onset(sound) - at) <= 1
    assert np.allclose(np.abs(sound[:, at:at + 960]).max(axis=1), 0.4, atol=0.01)  # every channel, none lost


def test_a_frame_rate_the_timecode_cannot_count_is_refused_at_upload(project, users, client_for, tmp_path):
    """10 frames at 1/3600 fps were accepted; every page of the project then answered 500."""
    path = tmp_path / "slow.mov"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(1, 3600))
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for index in range(10):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 20 * index, np.uint8), format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    answer = post_upload(client_for(users["producer"]), project, path)
    assert answer.status_code == 400
    assert "frame rate is 0.000277778 fps; footage from 1 to 300 fps" in answer.json()["detail"]
    assert not Footage.objects.exists()


@pytest.mark.parametrize("kind", ["video", "sequence"])
def test_frames_too_small_for_the_engines_are_refused_at_upload(project, users, client_for, tmp_path, kind):
    """A 40x12 source was accepted; its render then failed in the optical flow."""
    image = np.full((12, 40, 3), 90, np.uint8)
    if kind == "video":
        path = encode_frames(tmp_path / "thin.mp4", [image] * 4)
    else:
        path = image_zip(tmp_path / "thin.zip", [image] * 4, "png")
    answer = post_upload(client_for(users["producer"]), project, path)
    assert answer.status_code == 400
    assert "frames of 40x12 are too small; the engines need at least 16 pixels on each side" in answer.json()["detail"]
    assert not Footage.objects.exists()


def test_master_color_tags_agree_in_bitstream_and_container(project, users, upload, tmp_path):
    """The ProRes frame header said primaries and transfer 'unspecified' while the MOV said BT.709."""
    source = make_source(tmp_path / "plain.mov")
    _, made = deliver(project, users, upload, tmp_path, source)
    with av.open(str(made["prores"][0])) as container:
        stream = container.streams.video[0]
        container_tags = (stream.codec_context.color_primaries, stream.codec_context.color_trc,
                          stream.codec_context.colorspace)
        frame = next(container.decode(stream))  # the decoder reads the ProRes frame header
        assert (frame.color_primaries, frame.color_trc, frame.colorspace) == (1, 1, 1) == container_tags[:1] * 3
        assert container_tags == (1, 1, 1)


def test_deliverable_names_keep_letters_of_every_script():
    from annotations import storage

    assert storage.slug("Überfahrt 東京") == "Überfahrt_東京"
    assert storage.slug("../../etc/passwd") == "etc_passwd"
    assert storage.slug("a/b\\c:d") == "a_b_c_d"


def encode_frames(path, images, *, rate=RATE, pts=None, rotation=None):
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = images[0].shape[1], images[0].shape[0], "yuv444p"
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for index, image in enumerate(images):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = index if pts is None else pts[index]
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def test_the_display_rotation_is_applied_at_ingest(project, users, upload, client_for, tmp_path):
    """Stored 64x48 with a bright top-left corner, shown turned 90 degrees counterclockwise:
    48x64 with the corner at the bottom left, in proxies, frames and the API's facts."""
    image = np.full((48, 64, 3), 30, np.uint8)
    image[:8, :8] = 230
    clip = encode_frames(tmp_path / "portrait.mp4", [image] * 6, rotation=90)
    footage = upload_footage(project, users["producer"], upload(clip), name="Portrait", start_ingest=False)
    ingest(footage)
    assert footage.status == "ready", footage.error
    shot = footage.shots.get()
    assert (shot.width, shot.height) == (48, 64)
    luma = frames.shot_luma(shot, 2)
    assert luma.shape == (64, 48) and luma[-4, 4] > 0.7 and luma[4, 4] < 0.3
    facts = client_for(users["producer"]).get(reverse("api:footage-detail", args=[footage.pk])).json()["facts"]
    assert facts["rotation"] == 90 and facts["stored_size"] == "64x48" and "rotation" in facts["decisions"]
    browser = Client()
    browser.force_login(users["producer"])
    page = browser.get(reverse("studio:project", args=[project.pk]))
    assert "turned 90 degrees counterclockwise to 48x64" in page.content.decode()


def test_an_odd_size_is_delivered_padded_and_as_png_exactly(project, users, upload, tmp_path):
    image = np.full((241, 321, 3), 90, np.uint8)
    clip = encode_frames(tmp_path / "odd.mp4", [image] * 4)
    footage = upload_footage(project, users["producer"], upload(clip), name="Odd", start_ingest=False)
    ingest(footage)
    assert footage.status == "ready", footage.error
    assert "odd" in footage.facts["decisions"]["size"]
    _, made = deliver(project, users, upload, tmp_path, clip)
    for kind, size in (("mp4", (322, 242)), ("prores", (322, 241))):
        with av.open(str(made[kind][0])) as container:
            stream = container.streams.video[0]
            assert (stream.width, stream.height) == size, kind
        assert "321x241 padded" in made[kind][1]["size"]


def test_a_variable_frame_rate_is_refused_naming_the_fact(project, users, client_for, tmp_path):
    """24 frames at 1/24 s, then 24 at 1/8 s: delivered by index it drifted 0.9 s from its sound."""
    pts = list(range(24)) + [24 + 3 * i for i in range(24)]
    clip = encode_frames(tmp_path / "vfr.mov", [np.full((48, 64, 3), 8 * (i % 30), np.uint8) for i in range(48)],
                         pts=pts)
    answer = post_upload(client_for(users["producer"]), project, clip)
    detail = answer.json()["detail"] if answer.status_code == 400 else Footage.objects.get().error
    assert "variable frame rate: frames last from 41.7 to 125.0 ms" in detail


def test_a_gap_in_an_image_sequence_is_refused_with_the_missing_numbers(project, users, client_for, tmp_path):
    path = tmp_path / "scan.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for number in (1, 2, 3, 4, 6, 7, 8, 9, 10):
            ok, data = cv2.imencode(".png", np.full((48, 64, 3), 10 * number, np.uint8))
            archive.writestr(f"scan/frame_{number:04d}.png", data.tobytes())
    answer = post_upload(client_for(users["producer"]), project, path)
    assert answer.status_code == 400
    assert "skips frame numbers 5;" in answer.json()["detail"]


def test_pixel_aspect_and_field_order_are_carried_to_the_master(project, users, upload, tmp_path):
    """An anamorphic (SAR 4:3), top-field-first source: the ProRes master says the same."""
    path = tmp_path / "anamorphic.mov"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("prores_ks", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv422p10le"
        stream.codec_context.sample_aspect_ratio, stream.codec_context.field_order = Fraction(4, 3), 2
        for index in range(4):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 60, np.uint8), format="rgb24")
            frame = frame.reformat(format="yuv422p10le")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    footage = upload_footage(project, users["producer"], upload(path), name="Anamorphic", start_ingest=False)
    ingest(footage)
    assert (footage.facts["pixel_aspect"], footage.facts["field_order"]) == ("4/3", "tt")
    _, made = deliver(project, users, upload, tmp_path, path)
    with av.open(str(made["prores"][0])) as container:
        stream = container.streams.video[0]
        assert (stream.sample_aspect_ratio, stream.codec_context.field_order) == (Fraction(4, 3), 2)
