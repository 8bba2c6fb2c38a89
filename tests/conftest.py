"""Shared fixtures for the whole suite.

The suite runs in two modes, picked by the same environment variables as the app:
- embedded (default): SQLite, in-memory channel layer, background jobs in worker threads;
- distributed (DATABASE_URL=postgres://..., REDIS_URL=redis://...): PostgreSQL test database,
  Redis channel layer, and a real Celery worker subprocess consuming "preview" and "batch".
`make test` runs it in both. Tests marked `@pytest.mark.distributed` need the second mode: they
are skipped in the first, except under CI (CI set), where a missing service is a failure.

Fixtures (all function-scoped unless noted):
    users             {role: User} one user per role ("annotator", "reviewer", "producer", "manager")
    outsider          a user who belongs to no project
    project           a Project with `users` as members in their roles (created through actions)
    client_for        client_for(user) -> DRF APIClient authenticated as user (None: anonymous)
    clips             (session) clips(kind) -> path of a tiny clip encoded for real with PyAV:
                      "h264", "hevc", "mpeg2", "mjpeg", "ffv1", "prores" (10 bit, TC 01:00:00:00),
                      "dnxhr" (256x144), "h264_gop" (24 frames, GOP 4 with B-frames), "png_zip",
                      "png16_zip", "tiff_zip", "jpeg_zip", "two_scenes" (h264, 16 frames, a cut at 8);
                      all others 64x48, 10 frames
    upload            upload(path, name=None) -> an uploaded-file object for actions
    shot              a tiny ingested Shot (64x48, 10 frames, h264, 24000/1001), ingested in-process
    keyframe          a Keyframe at frame 2 of `shot`, added by the annotator (revision 1: empty hints)
    background_jobs   (transactional) runs jobs the mode's way; .wait_footage(footage) waits for ingest
    celery_worker     (session) the worker subprocess in the distributed mode (None when embedded)
    media_root        (session, autouse) a temporary MEDIA_ROOT shared with the Celery worker
Helpers: encode(path, frames, codec, ...) and image_zip(path, frames, ext) make more media;
annotations.demo.synthetic_reel(...) makes the frames.
"""
from __future__ import annotations

import os
import time
import zipfile
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from django.conf import settings
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.test import override_settings

from annotations.demo import synthetic_reel

DISTRIBUTED = bool(os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"))
IN_CI = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")
CLIP_SIZE = (64, 48)
CLIP_FRAMES = 10
CLIP_RATE = Fraction(24000, 1001)


def pytest_report_header(config):
    mode = "distributed (PostgreSQL, Redis, Celery worker)" if DISTRIBUTED else "embedded (SQLite, worker threads)"
    return f"colorproj mode: {mode}"


def pytest_runtest_setup(item):
    if not DISTRIBUTED and item.get_closest_marker("distributed"):
        message = "needs the distributed mode: DATABASE_URL (PostgreSQL) and REDIS_URL"
        if IN_CI:
            pytest.fail(f"{message}; under CI a missing service is a failure (run `make test`)")
        pytest.skip(message)


def pytest_unconfigure(config):
    # SQLite in WAL mode leaves -wal/-shm files beside the test database Django deleted.
    test_db = settings.DATABASES["default"].get("TEST", {}).get("NAME") if settings.configured else None
    if test_db and settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        for suffix in ("-wal", "-shm"):
            Path(f"{test_db}{suffix}").unlink(missing_ok=True)


# --- Media ------------------------------------------------------------------------------------

@pytest.fixture(scope="session", autouse=True)
def media_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("media")
    # A fast password hasher: the suite creates many users.
    with override_settings(MEDIA_ROOT=str(root), PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield root


def encode(path: Path, frames, codec: str, *, rate=CLIP_RATE, pix_fmt="yuv420p", options=None,
           timecode: str | None = None) -> Path:
    """Encode uint8 RGB frames with PyAV (a real codec)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], pix_fmt
        if options:
            stream.options = options
        if timecode:
            stream.metadata["timecode"] = timecode
        for image in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode(None))
    return path


def image_zip(path: Path, frames, ext: str, *, sixteen_bit=False, extra: dict | None = None) -> Path:
    import cv2

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for index, image in enumerate(frames):
            bgr = image[..., ::-1]
            if sixteen_bit:
                bgr = bgr.astype(np.uint16) * 257
            ok, data = cv2.imencode(f".{ext}", bgr)
            assert ok
            archive.writestr(f"scan/frame_{index + 1:04d}.{ext}", data.tobytes())
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return path


CLIP_RECIPES = {
    "h264": ("clip.mp4", dict(codec="libx264", options={"crf": "18"})),
    "hevc": ("clip_hevc.mp4", dict(codec="libx265", options={"x265-params": "log-level=error"})),
    "mpeg2": ("clip.mpg", dict(codec="mpeg2video", rate=Fraction(25), options={"b": "2000000"})),
    "mjpeg": ("clip.avi", dict(codec="mjpeg", pix_fmt="yuvj420p", rate=Fraction(24))),
    "ffv1": ("clip.mkv", dict(codec="ffv1", pix_fmt="yuv444p", rate=Fraction(24))),
    "prores": ("clip.mov", dict(codec="prores_ks", pix_fmt="yuv422p10le", rate=Fraction(24000, 1001),
                                timecode="01:00:00:00")),
    # DNxHR needs at least 256 pixels across.
    "dnxhr": ("clip_dnxhr.mov", dict(codec="dnxhd", pix_fmt="yuv422p", rate=Fraction(25),
                                     options={"profile": "dnxhr_lb"}, size=(256, 144))),
    # Short GOPs with B-frames: random access must seek, not just decode from the start.
    "h264_gop": ("clip_gop.mp4", dict(codec="libx264", options={"g": "4", "bf": "2", "crf": "18"},
                                      frame_count=24)),
}


@pytest.fixture(scope="session")
def clips(tmp_path_factory):
    """clips(kind) -> Path; each clip is made once per session."""
    folder = tmp_path_factory.mktemp("clips")
    made: dict[str, Path] = {}
    frames = synthetic_reel(*CLIP_SIZE, CLIP_FRAMES, scenes=1)

    def make(kind: str) -> Path:
        if kind in made:
            return made[kind]
        if kind in CLIP_RECIPES:
            name, recipe = CLIP_RECIPES[kind]
            recipe = dict(recipe)
            size, count = recipe.pop("size", CLIP_SIZE), recipe.pop("frame_count", CLIP_FRAMES)
            clip = frames if (size, count) == (CLIP_SIZE, CLIP_FRAMES) else synthetic_reel(*size, count, scenes=1)
            path = encode(folder / name, clip, **recipe)
        elif kind == "two_scenes":
            path = encode(folder / "two_scenes.mp4", synthetic_reel(*CLIP_SIZE, 16, scenes=2), "libx264",
                          options={"crf": "18"})
        elif kind.endswith("_zip"):
            ext = {"png_zip": "png", "png16_zip": "png", "tiff_zip": "tiff", "jpeg_zip": "jpg"}[kind]
            path = image_zip(folder / f"{kind}.zip", frames, ext, sixteen_bit=kind == "png16_zip")
        else:
            raise KeyError(kind)
        made[kind] = path
        return path

    return make


@pytest.fixture(autouse=True)
def fresh_channel_layer():
    """Each async test runs on its own event loop and the Redis layer keeps per-loop locks:
    every test starts with a new channel layer."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture
def upload():
    """upload(path_or_bytes, name=None) -> an uploaded file as Django's upload handler makes it."""
    opened = []

    def make(source, name: str | None = None):
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
        name = name or (Path(source).name if not isinstance(source, bytes) else "upload.bin")
        uploaded = TemporaryUploadedFile(name, "application/octet-stream", len(data), None)
        uploaded.write(data)
        uploaded.seek(0)
        opened.append(uploaded)
        return uploaded

    yield make
    for uploaded in opened:
        uploaded.close()


# --- People and projects ----------------------------------------------------------------------

@pytest.fixture
def users(django_user_model):
    from annotations.models import Role

    return {role: django_user_model.objects.create_user(role, password="pw-" + role) for role in Role.values}


@pytest.fixture
def outsider(django_user_model):
    return django_user_model.objects.create_user("outsider", password="pw-outsider")


@pytest.fixture
def project(users):
    from annotations.projects import actions as projects
    from annotations.models import Role
    from annotations.permissions import allow_project_creation

    allow_project_creation(users[Role.MANAGER])
    project = projects.create_project(users[Role.MANAGER], "Test project")
    for role in (Role.ANNOTATOR, Role.REVIEWER, Role.PRODUCER):
        projects.add_member(project, users[Role.MANAGER], users[role], role)
    return project


@pytest.fixture
def client_for():
    from rest_framework.test import APIClient

    def make(user=None):
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make


@pytest.fixture
def shot(project, users, clips, upload):
    """A tiny ingested shot; ingest runs in this process, so it works in plain `db` tests."""
    from annotations.footage.actions import ingest, upload_footage

    footage = upload_footage(project, users["producer"], upload(clips("h264"), "tiny.mp4"), name="Tiny",
                             start_ingest=False)
    ingest(footage)
    assert footage.status == "ready", footage.error
    return footage.shots.get()


@pytest.fixture
def keyframe(shot, users):
    from annotations.keyframes.actions import add_keyframe

    return add_keyframe(shot, users["annotator"], 2)


# --- Background jobs --------------------------------------------------------------------------

class BackgroundJobs:
    def __init__(self, worker):
        self.worker = worker

    def wait_footage(self, footage, timeout: float = 60.0):
        """Wait until ingest of `footage` ends (ready or failed); returns the refreshed row."""
        from colorproj import jobs

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not DISTRIBUTED:
                jobs.drain(0.2)
            footage.refresh_from_db()
            if footage.status in ("ready", "failed"):
                return footage
            self.check_worker()
            time.sleep(0.1)
        raise AssertionError(f"ingest of footage {footage.pk} did not finish in {timeout}s (status {footage.status})")

    def check_worker(self):
        if self.worker is not None and self.worker.poll() is not None:
            raise AssertionError(f"the Celery worker exited with code {self.worker.returncode}")


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, media_root, tmp_path_factory):
    """(distributed mode) A real Celery worker process on queues preview and batch, using the test DB."""
    if not DISTRIBUTED:
        yield None
        return
    _require_redis()
    from tests.processes import start_worker, stop

    global _session_worker
    worker = _session_worker = start_worker("preview,batch", tmp_path_factory.mktemp("worker") / "celery.log",
                                            concurrency=2)
    try:
        yield worker
    finally:
        _session_worker = None
        stop(worker)


_session_worker = None  # the distributed mode's Celery worker, once a test has started it


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item, nextitem):
    """Before a test's tables are flushed, the Celery worker finishes the jobs its actions queued
    (a hint edit queues a preview): a job still reading a table deadlocks the flush's TRUNCATE."""
    if _session_worker is not None and _session_worker.poll() is None:
        _wait_worker_idle(_session_worker.name)


def _wait_worker_idle(name, timeout=90):
    """Until the worker `name` has no job running, reserved or waiting in its queues' broker lists.

    A worker busy with a render can miss inspect's reply window: no reply is not "idle" (taking
    it for one let a render's last job deadlock the flush). AssertionError after `timeout` s."""
    from colorproj.celery import app

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        inspect = app.control.inspect(destination=[name], timeout=2)
        active, reserved = inspect.active(), inspect.reserved()
        if active is not None and reserved is not None and not active.get(name) and not reserved.get(name) \
                and not _queued_jobs():
            return
        time.sleep(0.2)
    raise AssertionError(f"the Celery worker {name} was still busy {timeout} s after the test")


def _queued_jobs() -> int:
    """Jobs published to the test worker's queues and not yet fetched by it (the Redis broker
    keeps each queue as a list under the settings' key prefix)."""
    import redis
    from django.conf import settings

    broker = redis.Redis.from_url(os.environ["REDIS_URL"])
    prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"]
    return sum(broker.llen(f"{prefix}{queue}") for queue in ("preview", "batch"))


def _require_redis():
    import redis

    try:
        redis.Redis.from_url(os.environ["REDIS_URL"], socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        message = f"Redis at {os.environ['REDIS_URL']} is not reachable ({exc})"
        pytest.fail(message) if IN_CI else pytest.skip(message)


@pytest.fixture
def background_jobs(transactional_db, celery_worker):
    """Background jobs as the mode runs them: worker threads (embedded) or the Celery worker."""
    from colorproj import jobs

    yield BackgroundJobs(celery_worker)
    # Nothing may still hold the tables while the test database is flushed (TRUNCATE deadlocks).
    jobs.drain(30)
    if celery_worker is not None:
        _wait_worker_idle(celery_worker.name)
