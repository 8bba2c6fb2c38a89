"""A Celery worker killed (SIGKILL) in the middle of a render does not lose it.

Real PostgreSQL, Redis and Celery worker processes on a queue of this test's own. The render
queue is frozen on the render row, so every job of the render follows it there.
"""
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from tests.annotations.review_helpers import approve_all, wait_render

from annotations.actions.render import start_render
from annotations.models import Render, RenderStretch

pytestmark = pytest.mark.distributed
HERE = Path(__file__).resolve().parent


def start_worker(queue: str, log: Path, *, slow: bool, env: dict | None = None) -> subprocess.Popen:
    db = connection.settings_dict
    url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    name = f"{'slow' if slow else 'fresh'}-{uuid.uuid4().hex[:6]}@localhost"
    command = [sys.executable, str(HERE / "slow_render_worker.py")] if slow else [sys.executable, "-m", "celery"]
    command += ["-A", "colorproj", "worker", "-Q", queue, "-P", "threads", "-c", "1", "-n", name,
                "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "info"]
    process = subprocess.Popen(command, cwd=settings.BASE_DIR, stdout=open(log, "w"), stderr=subprocess.STDOUT, env={
        **os.environ, "DATABASE_URL": url, "COLORPROJ_MEDIA_ROOT": str(settings.MEDIA_ROOT), "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": str(HERE), **(env or {})})
    from colorproj.celery import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()[-3000:]
        if app.control.ping(destination=[name], timeout=0.5):
            return process
    raise AssertionError(f"worker not ready:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()


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
        fresh = start_worker(queue, tmp_path / "fresh.log", slow=False,
                             env={"COLORPROJ_VISIBILITY_TIMEOUT": "3", "COLORPROJ_RESTORE_INTERVAL": "1"})
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
