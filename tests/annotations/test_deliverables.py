"""End to end: ingest, keyframes, review, render on background workers, download and decode the
deliverables. Runs in both modes: worker threads (embedded) and a real Celery worker over Redis
and PostgreSQL (distributed), through the `background_jobs` fixture.
"""
import hashlib
import io
import json
import zipfile
from fractions import Fraction

import av
import cv2
import numpy as np
import pytest
from django.test import Client
from django.urls import reverse
from tests.annotations.review_helpers import CLIP_FRAMES, CLIP_TIMECODE, approve_all, audio_packets, hints, run_inline, wait_render

from annotations import frames
from annotations.render.actions import start_render
from annotations.models import Footage, Render
from inference.color import to_luma


def url(name, *args):
    return reverse(f"api:{name}", args=args)


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def reviewed_shot(project, users, client_for, background_jobs, clip):
    """Upload, ingest (background job), two keyframes annotated, submitted and approved, via the API."""
    producer, annotator, reviewer = (client_for(users[r]) for r in ("producer", "annotator", "reviewer"))
    with open(clip, "rb") as handle:
        answer = producer.post(url("project-footage", project.pk), {"file": handle, "name": "Reel 7"}, format="multipart")
    assert answer.status_code == 202, answer.json()
    footage = background_jobs.wait_footage(Footage.objects.get(pk=answer.json()["id"]))
    assert footage.status == "ready", footage.error
    assert footage.has_audio and footage.start_timecode == CLIP_TIMECODE
    shot = footage.shots.get()
    for frame, color in ((1, "#b03020"), (8, "#a83828")):
        keyframe = annotator.post(url("shot-keyframes", shot.pk), {"frame": frame}, format="json").json()
        saved = annotator.put(url("keyframe-hints", keyframe["id"]), {"hints": hints(color)}, format="json")
        assert saved.status_code == 200, saved.json()
        assert annotator.post(url("keyframe-submit", keyframe["id"]), {}, format="json").status_code == 200
        answer = reviewer.post(url("keyframe-approve", keyframe["id"]),
                               {"content_hash": saved.json()["content_hash"], "comment": "per sources"}, format="json")
        assert answer.status_code == 200, answer.json()
    return shot


def test_end_to_end_render_and_deliverables(project, users, outsider, client_for, background_jobs, audio_clip,
                                            tmp_path):
    shot = reviewed_shot(project, users, client_for, background_jobs, audio_clip)
    producer = client_for(users["producer"])
    answer = producer.post(url("shot-renders", shot.pk), {"sequence_start": 2001}, format="json")
    assert answer.status_code == 202, answer.json()
    render = wait_render(Render.objects.get(pk=answer.json()["id"]), worker=background_jobs.worker)
    detail = producer.get(url("render-detail", render.pk)).json()
    assert detail["status"] == "done", detail["error"]
    # The render keeps the source's luma exactly and its chroma does not flicker. (The appearance
    # check flags this synthetic reel's frames, whose color crosses its flat ramp: the verdict is
    # "attention"; the appearance logic is tested in test_render_qc.)
    assert detail["progress"] == 1.0 and detail["qc"]["luma"]["pass"], detail["qc"]["luma"]
    assert detail["qc"]["flicker"]["pass"] and len(detail["qc"]["flicker"]["per_frame"]) == CLIP_FRAMES - 1
    assert detail["qc"]["verdict"] == "attention"
    assert [(s["start"], s["end"], s["status"]) for s in detail["stretches"]] == [
        (0, 1, "done"), (1, 8, "done"), (8, CLIP_FRAMES, "done")]
    deliverables = {d["kind"]: d for d in detail["deliverables"]}
    assert set(deliverables) == {"mp4", "prores", "png"}

    # Downloads are for producers (and managers) only.
    for who, code in ((users["annotator"], 403), (users["reviewer"], 403), (outsider, 404)):
        assert client_for(who).get(deliverables["mp4"]["url"]).status_code == code
    files = {}
    for kind, item in deliverables.items():
        response = producer.get(item["url"])
        assert response.status_code == 200 and response["Accept-Ranges"] == "bytes"
        assert "attachment" in response["Content-Disposition"] and item["filename"] in response["Content-Disposition"]
        files[kind] = body(response)
        assert hashlib.sha256(files[kind]).hexdigest() == item["sha256"]
        manifest = json.loads(producer.get(item["manifest_url"]).content)
        assert manifest["files"][0] == {"name": item["filename"], "sha256": item["sha256"], "bytes": len(files[kind])}
        assert manifest["render"]["frames_sha256"] == render.output_hash
        assert manifest["engines"]["keyframe"]["method"] == render.keyframe_method
        assert manifest["engines"]["propagation"]["method"] == render.propagation_method
        assert [k["frame"] for k in manifest["keyframes"]] == [1, 8]
        for entry in manifest["keyframes"]:
            assert entry["approvals"][0]["by"] == "reviewer" and len(entry["content_hash"]) == 64
        assert manifest["quality_checks"]["luma"]["pass"]

    source_luma = list(frames.iter_shot_luma(shot))
    tmp = {}
    for kind in ("mp4", "prores"):
        tmp[kind] = tmp_path / deliverables[kind]["filename"]
        tmp[kind].write_bytes(files[kind])

    # Mezzanine: ProRes 422 HQ, 10-bit 4:2:2, the source's rate and timecode, its sound as PCM.
    with av.open(str(tmp["prores"])) as container:
        video = container.streams.video[0]
        assert container.format.name.startswith("mov")
        assert video.codec_context.name == "prores" and video.codec_context.profile == "HQ"
        assert video.codec_context.format.name == "yuv422p10le"
        assert video.average_rate == Fraction(24000, 1001)
        assert video.metadata.get("timecode") == CLIP_TIMECODE
        decoded = [_luma_plane(f) for f in container.decode(video)]
    assert len(decoded) == CLIP_FRAMES
    # Y' is the source's luma in 10-bit limited-range code values (64..940), up to ProRes' own loss.
    errors = [np.abs((y - 64) / 876 - s) for y, s in zip(decoded, source_luma)]
    assert max(e.max() for e in errors) < 8 / 255 and np.mean(errors) < 0.5 / 255
    with av.open(str(tmp["prores"])) as container:
        track = container.streams.audio[0]
        assert track.codec_context.name == "pcm_s24le"  # a broadcast master carries PCM, not AAC
        samples = sum(frame.samples for frame in container.decode(track))
    assert samples == round(48000 * CLIP_FRAMES / Fraction(24000, 1001))  # exactly the shot's span

    # Review copy: H.264 8-bit 4:2:0 MP4 with the same rate and frame count, audio too.
    with av.open(str(tmp["mp4"])) as container:
        video = container.streams.video[0]
        assert video.codec_context.name == "h264" and video.codec_context.format.name == "yuv420p"
        assert video.average_rate == Fraction(24000, 1001)
        assert sum(1 for _ in container.decode(video)) == CLIP_FRAMES
    assert audio_packets(tmp["mp4"]) == audio_packets(audio_clip)

    # Image sequence: 16-bit PNGs numbered from the start asked for, exactly the master frames.
    with zipfile.ZipFile(io.BytesIO(files["png"])) as archive:
        names = archive.namelist()
        assert names == [f"Reel_7.{n:04d}.png" for n in range(2001, 2001 + CLIP_FRAMES)]
        png_manifest = json.loads(producer.get(deliverables["png"]["manifest_url"]).content)
        for entry, name in zip(png_manifest["files"][1:], names):
            data = archive.read(name)
            assert entry["name"] == name and entry["sha256"] == hashlib.sha256(data).hexdigest()
        image = cv2.imdecode(np.frombuffer(archive.read(names[5]), np.uint8), cv2.IMREAD_UNCHANGED)
    assert image.dtype == np.uint16 and image.shape == (48, 64, 3)
    assert np.abs(to_luma(image[..., ::-1]) - source_luma[5]).max() * 255 < 0.5

    # The quality checks are shown with the render.
    browser = Client()
    browser.force_login(users["producer"])
    html = browser.get(reverse("review-shot", args=[shot.pk])).content.decode()
    assert "Luma vs source" in html and "Legal range, prores (10-bit)" in html and "Flicker" in html
    assert deliverables["prores"]["url"] in html


def _luma_plane(frame) -> np.ndarray:
    plane = frame.planes[0]
    return np.frombuffer(plane, "<u2").reshape(plane.height, -1)[:, : plane.width].astype(np.float32)


@pytest.mark.django_db
def test_downloads_resume_with_range_requests(shot, users, client_for):
    approve_all(shot, users)
    render = run_inline(start_render(shot, users["producer"]))
    deliverable = render.deliverables.get(kind="prores")
    client = client_for(users["producer"])
    path = url("deliverable-download", render.pk, "prores")
    whole = body(client.get(path))
    assert len(whole) == deliverable.size_bytes

    first = client.get(path, HTTP_RANGE="bytes=0-99")
    assert first.status_code == 206 and first["Content-Range"] == f"bytes 0-99/{len(whole)}"
    assert first["Content-Length"] == "100"
    rest = client.get(path, HTTP_RANGE="bytes=100-", HTTP_IF_RANGE=f'"{deliverable.sha256}"')
    assert rest.status_code == 206
    assert body(first) + body(rest) == whole  # a resumed download is the whole file
    tail = client.get(path, HTTP_RANGE="bytes=-10")
    assert tail.status_code == 206 and body(tail) == whole[-10:]
    # A partial copy of another version gets the whole current file.
    stale = client.get(path, HTTP_RANGE="bytes=100-", HTTP_IF_RANGE='"0000"')
    assert stale.status_code == 200 and body(stale) == whole
    beyond = client.get(path, HTTP_RANGE=f"bytes={len(whole)}-")
    assert beyond.status_code == 416 and beyond["Content-Range"] == f"bytes */{len(whole)}"
    assert client.get(url("deliverable-download", render.pk, "dpx")).status_code == 404


@pytest.mark.django_db
def test_default_sequence_numbering_and_manifest(shot, users, client_for):
    approve_all(shot, users)
    render = run_inline(start_render(shot, users["producer"]))
    manifest = render.deliverables.get(kind="png").manifest
    assert [f["name"] for f in manifest["files"][1:]] == [f"Tiny.{n:04d}.png" for n in range(1001, 1011)]
    assert manifest["shot"]["sequence_start"] == 1001 and manifest["shot"]["frame_rate"] == "24000/1001"
    approvals = [k["approvals"][0] for k in manifest["keyframes"]]
    assert all(a["by"] == "reviewer" and a["comment"] == "matches the regimental records" for a in approvals)
    assert all("hints" not in k for k in manifest["keyframes"])
    assert manifest["format"]["bit_depth"] == 16
    mov = render.deliverables.get(kind="prores").manifest
    assert mov["format"]["audio"] == "none in source" and mov["shot"]["start_timecode"] == "00:00:00:00"


@pytest.mark.django_db
def test_pcm_sound_is_encoded_as_aac_for_the_review_copy(project, users, upload, tmp_path):
    """MP4 cannot carry PCM untouched: the review copy gets exactly the shot's samples as AAC."""
    from tests.annotations.review_helpers import encode_with_audio

    from annotations.footage.actions import ingest, upload_footage
    from annotations.render import deliverables

    clip = encode_with_audio(tmp_path / "transfer.mov", audio_codec="pcm_s16le")
    footage = upload_footage(project, users["producer"], upload(clip), name="Transfer", start_ingest=False)
    ingest(footage)
    shot = footage.shots.get()
    encoder = deliverables.review_encoder(tmp_path / "review.mp4", shot)
    for _ in range(shot.frame_count):
        encoder.write(np.full((shot.height, shot.width, 3), 30000, np.uint16))
    encoder.close()

    expected = round(48000 * shot.frame_count / Fraction(shot.footage.frame_rate))
    assert encoder.notes["audio_codec"] == "aac" and encoder.notes["audio_source_codec"] == "pcm_s16le"
    assert encoder.notes["audio_samples"] == expected
    with av.open(str(tmp_path / "review.mp4")) as container:
        assert container.streams.audio[0].codec_context.name == "aac"
        sound = np.concatenate([f.to_ndarray()[0] for f in container.decode(container.streams.audio[0])])
    assert abs(len(sound) - expected) <= 2048  # AAC pads to whole 1024-sample frames
    spectrum = np.abs(np.fft.rfft(sound[1024:expected]))
    assert abs(np.argmax(spectrum) * 48000 / (2 * (len(spectrum) - 1)) - 440) < 15  # the tone survived
