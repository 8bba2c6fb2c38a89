"""Helpers shared by the review, render, deliverable and studio tests (their fixtures are in conftest.py)."""
from __future__ import annotations

import time

import cv2
import numpy as np

from annotations.footage.actions import ingest, upload_footage
from annotations.review import actions as review
from annotations.keyframes.actions import add_keyframe, save_hints
from tests.conftest import encode

RED, GREEN = "#b03020", "#2f8a3a"


def hints(color=RED, reference=None, x=20, y=15, with_stroke=True) -> dict:
    point = {"x": x, "y": y, "color": color, "radius": 3}
    if reference is not None:
        point["reference"] = reference
    data = {"points": [point, {"x": 50, "y": 35, "color": GREEN, "radius": 3}], "strokes": []}
    if with_stroke:
        data["strokes"] = [{"points": [[32, 0], [32, 47]], "width": 2}]
    return data


def annotate(shot, annotator, frame: int, content: dict | None = None):
    keyframe = add_keyframe(shot, annotator, frame)
    save_hints(keyframe, annotator, content or hints())
    keyframe.refresh_from_db()
    return keyframe


def approve_all(shot, users, frames=(2, 7)) -> list:
    """Keyframes at `frames`, annotated, submitted and approved by the reviewer."""
    keyframes = []
    for frame in frames:
        keyframe = annotate(shot, users["annotator"], frame, hints())
        review.submit(keyframe, users["annotator"])
        review.approve(keyframe, users["reviewer"], comment="matches the regimental records")
        keyframe.refresh_from_db()
        keyframes.append(keyframe)
    return keyframes


def run_inline(render):
    """Run a render's jobs one after another in this thread (plain `db` tests: nothing commits)."""
    from annotations.render import tasks

    tasks.prepare_render(render.pk)
    render.refresh_from_db()
    for stretch in render.stretches.all():
        tasks.render_stretch(render.pk, stretch.index)
    tasks.finalize_render(render.pk)
    render.refresh_from_db()
    return render


def wait_render(render, timeout: float = 120.0, worker=None):
    """Wait until a render ends (done or failed), running embedded jobs meanwhile."""
    from colorproj import jobs

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs.drain(0.2)
        render.refresh_from_db()
        if render.status in ("done", "failed"):
            return render
        if worker is not None and worker.poll() is not None:
            raise AssertionError(f"the Celery worker exited with code {worker.returncode}")
        time.sleep(0.1)
    raise AssertionError(f"render {render.pk} did not finish in {timeout}s (status {render.status})")


CLIP_TIMECODE = "10:00:00:00"
CLIP_FRAMES = 12


def encode_with_audio(path, frame_count: int = CLIP_FRAMES, timecode: str = CLIP_TIMECODE, audio_codec: str = "aac"):
    """A tiny H.264 MOV with a 440 Hz tone (AAC, or e.g. pcm_s16le) and a start timecode, encoded
    for real with PyAV."""
    from fractions import Fraction

    import av
    import numpy as np

    from annotations.demo import synthetic_reel

    rate = Fraction(24000, 1001)
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=rate)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        # Lossless: x264's lossy decisions here vary from run to run (even on one thread), and a
        # render test must see the same source frames every time.
        video.options = {"qp": "0", "threads": "1"}
        video.metadata["timecode"] = timecode
        audio = container.add_stream(audio_codec, rate=48000)
        audio.layout = "mono"
        samples = int(48000 * frame_count / rate)
        tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(samples) / 48000)).astype(np.float32)
        for start in range(0, samples, 1024):
            frame = av.AudioFrame.from_ndarray(tone[None, start:start + 1024], format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 48000, start
            container.mux(audio.encode(frame))
        container.mux(audio.encode(None))
        for image in synthetic_reel(64, 48, frame_count, scenes=1):
            container.mux(video.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(video.encode(None))
    return path


def audio_packets(path) -> list[bytes]:
    import av

    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(container.streams.audio[0]) if p.size]


def panning_shot(project, producer, upload, folder):
    """A 160x120 shot of a textured picture panning right 2 px and down 1 px a frame (10 frames)."""
    rng = np.random.default_rng(11)
    texture = cv2.GaussianBlur((rng.random((160, 220)) * 255).astype(np.uint8), (0, 0), 1.5)
    frames = [np.repeat(texture[20 - t: 140 - t, 30 - 2 * t: 190 - 2 * t, None], 3, axis=2) for t in range(10)]
    clip = encode(folder / "pan.mp4", frames, "libx264", options={"crf": "12"})
    footage = upload_footage(project, producer, upload(clip), name="Pan", start_ingest=False)
    ingest(footage)
    return footage.shots.get()
