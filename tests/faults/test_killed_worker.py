"""A Celery worker killed (SIGKILL) in the middle of an ingest or a render does not lose it.

Real PostgreSQL, Redis and Celery worker processes on a queue of this test's own (the render
queue is frozen on the render row, so every job of the render follows it there). The killed
job is unacknowledged: a fresh worker takes it once its visibility timeout passes.
"""
import os
import signal
import time
import uuid

import pytest
from tests.annotations.review_helpers import approve_all, wait_render
from tests.conftest import CLIP_FRAMES
from tests.faults.outcomes import ingest_outcome
from tests.processes import start_worker, stop, wait_until

from annotations.footage.actions import upload_footage
from annotations.render.actions import start_render
from annotations.models import Footage, Render, RenderStretch

pytestmark = pytest.mark.distributed
TAKEOVER = {"COLORPROJ_VISIBILITY_TIMEOUT": "3", "COLORPROJ_RESTORE_INTERVAL": "1"}


def test_a_killed_worker_does_not_lose_the_ingest(transactional_db, project, users, clips, upload, settings, tmp_path):
    settings.COLORPROJ_INGEST_QUEUE = queue = f"ingest-test-{uuid.uuid4().hex[:8]}"
    slow = start_worker(queue, tmp_path / "slow.log", slow=True, env={"SLOW_INGEST_SECONDS": "0.5"})
    fresh = None
    try:
        footage = upload_footage(project, users["producer"], upload(clips("h264"), "reel.mp4"), name="Reel")
        wait_until(lambda: Footage.objects.get(pk=footage.pk).progress >= 0.3, 60, "ingest to be under way")
        os.kill(slow.pid, signal.SIGKILL)
        slow.wait(10)
        assert ingest_outcome(footage)["status"] == Footage.Status.INGESTING

        fresh = start_worker(queue, tmp_path / "fresh.log", env=TAKEOVER)
        wait_until(lambda: Footage.objects.get(pk=footage.pk).status != Footage.Status.INGESTING, 120, "the ingest")
        assert ingest_outcome(footage) == {"status": Footage.Status.READY, "shots": [(0, CLIP_FRAMES)],
                                           "proxies": CLIP_FRAMES, "audit": ["footage.ingested", "footage.uploaded"]}
    finally:
        stop(slow)
        if fresh is not None:
            stop(fresh)


def test_a_killed_worker_does_not_lose_the_render(transactional_db, shot, users, settings, tmp_path):
    settings.COLORPROJ_RENDER_QUEUE = queue = f"render-test-{uuid.uuid4().hex[:8]}"
    approve_all(shot, users)  # stretches [0, 2), [2, 7), [7, 10)
    slow = start_worker(queue, tmp_path / "slow.log", slow=True, env={"SLOW_FRAME_SECONDS": "0.4"})
    fresh = None
    try:
        reference = wait_render(start_render(shot, users["producer"]), worker=slow)
        assert reference.status == Render.Status.DONE, reference.error

        render = start_render(shot, users["producer"])
        deadline = time.monotonic() + 60
        while True:  # kill the worker once it is inside the second stretch
            assert time.monotonic() < deadline, list(render.stretches.values())
            second = RenderStretch.objects.get(render=render, index=1)
            if second.status == "running" and second.frames_done >= 1:
                break
            time.sleep(0.05)
        os.kill(slow.pid, signal.SIGKILL)
        slow.wait(10)
        render.refresh_from_db()
        assert render.status == Render.Status.RUNNING
        states = {s.index: (s.status, s.attempts) for s in render.stretches.all()}
        assert states[0] == ("done", 1) and states[1] == ("running", 1) and states[2][0] == "pending"

        # A new worker takes over: the unacknowledged job comes back once its visibility timeout passes.
        fresh = start_worker(queue, tmp_path / "fresh.log", env=TAKEOVER)
        render = wait_render(render, timeout=120, worker=fresh)
        assert render.status == Render.Status.DONE, render.error
        attempts = {s.index: s.attempts for s in render.stretches.all()}
        assert attempts == {0: 1, 1: 2, 2: 1}  # only the interrupted stretch ran again
        assert render.output_hash == reference.output_hash  # and the result is the same, bit for bit
        assert {d.kind: d.sha256 for d in render.deliverables.all()}["png"] == \
            {d.kind: d.sha256 for d in reference.deliverables.all()}["png"]
    finally:
        stop(slow)
        if fresh is not None:
            stop(fresh)
