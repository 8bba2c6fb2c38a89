"""Hint-edit -> preview latency, measured the way an editor experiences it.

Starts the real server (daphne) in a subprocess, and for the Celery mode a real Celery worker
on the "preview" queue over Redis; then real websocket clients (one per editor, each on its
own keyframe, or all on one with --shared) move a color point, and time each edit from sending
it to holding the decoded preview of that revision (or a newer one: previews coalesce).

    python manage.py benchmark_preview                       # embedded and celery, 1 and 10 editors
    python manage.py benchmark_preview --modes embedded --editors 1 --edits 40

Uses the configured database (a throwaway project and users, removed afterwards).
"""
from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

WARMUP_EDITS = 3


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Command(BaseCommand):
    help = "Print p50/p95 latency from a hint edit to its preview, with 1 and 10 editors, embedded and on Celery."

    def add_arguments(self, parser):
        parser.add_argument("--modes", nargs="+", default=["embedded", "celery"], choices=["embedded", "celery"])
        parser.add_argument("--editors", nargs="+", type=int, default=[1, 10])
        parser.add_argument("--edits", type=int, default=30, help="timed edits per editor (after warm-up)")
        parser.add_argument("--think-ms", type=int, default=250, help="pause between an editor's edits")
        parser.add_argument("--size", default="1280x720", help="source frame size (previews are 512 px)")
        parser.add_argument("--shared", action="store_true", help="all editors on one keyframe")
        parser.add_argument("--redis", default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
        parser.add_argument("--preview-workers", type=int, default=2, help="preview threads / Celery concurrency")

    def handle(self, *args, modes, editors, edits, think_ms, size, shared, redis, preview_workers, **options):
        width, height = (int(v) for v in size.lower().split("x"))
        count = max(editors)
        self.stdout.write(f"Setting up {count} editors on a {width}x{height} shot…")
        fixture = self._setup(width, height, count)
        rows = []
        try:
            for mode in modes:
                with self._server(mode, redis, preview_workers) as port:
                    for n in editors:
                        self.stdout.write(f"  {mode}: {n} editor{'s' if n > 1 else ''}…")
                        result = asyncio.run(self._drive(port, fixture, n, edits, think_ms / 1000, shared))
                        rows.append((mode, n, result))
                        self.stdout.write("    " + self._row(mode, n, result))
        finally:
            self._teardown(fixture)
        self._report(rows, width, height, edits, shared)

    # --- Fixture ----------------------------------------------------------------------------------

    def _setup(self, width: int, height: int, count: int) -> dict:
        from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
        from django.contrib.sessions.backends.db import SessionStore
        from django.core.files.uploadedfile import TemporaryUploadedFile

        from annotations.actions import footage as footage_actions
        from annotations.actions import keyframes as keyframe_actions
        from annotations.actions import projects as project_actions
        from annotations.demo import synthetic_reel
        from annotations.models import Role
        from inference.media import write_video

        User = get_user_model()
        tag = f"bench-{os.getpid()}"
        users = [User.objects.create_user(f"{tag}-{i}") for i in range(count)]
        project = project_actions.create_project(users[0], f"Latency benchmark {tag}")
        for user in users[1:]:
            project_actions.add_member(project, users[0], user, Role.ANNOTATOR)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "reel.mp4"
            write_video(path, synthetic_reel(width, height, max(count, 2), scenes=1), Fraction(25),
                        options={"crf": "20"})
            upload = TemporaryUploadedFile("bench.mp4", "video/mp4", path.stat().st_size, None)
            upload.write(path.read_bytes())
            upload.seek(0)
            footage = footage_actions.upload_footage(project, users[0], upload, name="bench", start_ingest=False)
            upload.close()
        footage_actions.ingest(footage)
        if footage.status != "ready":
            raise CommandError(f"benchmark footage failed to ingest: {footage.error}")
        shot = footage.shots.get()
        keyframes = [keyframe_actions.add_keyframe(shot, users[0], i) for i in range(count)]
        cookies = []
        for user in users:
            session = SessionStore()
            session[SESSION_KEY], session[BACKEND_SESSION_KEY] = str(user.pk), "django.contrib.auth.backends.ModelBackend"
            session[HASH_SESSION_KEY] = user.get_session_auth_hash()
            session.create()
            cookies.append(f"{settings.SESSION_COOKIE_NAME}={session.session_key}")
        return {"project": project, "users": users, "footage": footage, "cookies": cookies,
                "keyframes": [k.pk for k in keyframes], "width": width, "height": height}

    def _teardown(self, fixture: dict) -> None:
        from django.contrib.sessions.models import Session

        from annotations import frames

        frames.delete_tree(fixture["footage"].derived_dir)
        fixture["footage"].original.delete(save=False)
        fixture["project"].delete()
        Session.objects.filter(session_key__in=[c.split("=", 1)[1] for c in fixture["cookies"]]).delete()
        for user in fixture["users"]:
            user.delete()

    # --- Processes ---------------------------------------------------------------------------------

    class _server:
        """daphne (and, for the Celery mode, a Celery worker on the preview queue) in subprocesses."""

        def __init__(self, mode, redis, workers):
            self.mode, self.redis, self.workers, self.processes = mode, redis, workers, []

        def __enter__(self):
            env = {**os.environ, "PYTHONUNBUFFERED": "1", "DJANGO_DEBUG": "0",
                   "COLORPROJ_PREVIEW_THREADS": str(self.workers),
                   "COLORPROJ_REDIS_PREFIX": f"bench{os.getpid()}"}
            if self.mode == "celery":
                env.update(REDIS_URL=self.redis, COLORPROJ_JOBS="celery")
            else:
                env.pop("REDIS_URL", None)
                env["COLORPROJ_JOBS"] = "embedded"
            port = free_port()
            self.log = tempfile.NamedTemporaryFile("w+", suffix=".log", prefix=f"bench-{self.mode}-", delete=False)
            self.processes.append(subprocess.Popen(
                [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "colorproj.asgi:application"],
                env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=settings.BASE_DIR))
            if self.mode == "celery":
                self.processes.append(subprocess.Popen(
                    [sys.executable, "-m", "celery", "-A", "colorproj", "worker", "-Q", "preview", "-P", "threads",
                     "-c", str(self.workers), "-n", f"bench-{os.getpid()}@localhost", "--without-gossip",
                     "--without-mingle", "--without-heartbeat", "-l", "warning"],
                    env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=settings.BASE_DIR))
            deadline = time.monotonic() + 60
            while True:
                if any(p.poll() is not None for p in self.processes):
                    self.__exit__()
                    raise CommandError(f"the {self.mode} server exited; see {self.log.name}")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    return port
                except OSError:
                    if time.monotonic() > deadline:
                        self.__exit__()
                        raise CommandError(f"the {self.mode} server did not start; see {self.log.name}")
                    time.sleep(0.2)

        def __exit__(self, *exc):
            for process in self.processes:
                process.terminate()
            for process in self.processes:
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()

    # --- Editors -------------------------------------------------------------------------------------

    async def _drive(self, port: int, fixture: dict, editors: int, edits: int, think: float, shared: bool) -> dict:
        # Editors start a little apart, as people do, then work at their own pace.
        results = await asyncio.gather(*(
            self._editor(port, fixture["cookies"][i], fixture["keyframes"][0 if shared else i], i, edits, think,
                         fixture["width"], fixture["height"], start_delay=i * 0.05)
            for i in range(editors)))
        latencies = [v for r in results for v in r["latencies"]]
        compute = [v for r in results for v in r["compute"]]
        return {"latencies": latencies, "compute": compute}

    async def _editor(self, port, cookie, keyframe_id, index, edits, think, width, height, start_delay):
        import websockets

        await asyncio.sleep(start_delay)
        url = f"ws://127.0.0.1:{port}/ws/keyframes/{keyframe_id}/"
        rng = random.Random(index)
        point_id = uuid.uuid4().hex[:12]
        latencies, compute = [], []
        async with websockets.connect(url, additional_headers={"Cookie": cookie, "Origin": f"http://127.0.0.1:{port}"},
                                      max_size=2**24) as ws:
            pending: dict[str, float] = {}
            acked: dict[str, int] = {}
            done = asyncio.Event()
            state = {"wait": None, "error": None}

            async def reader():
                async for raw in ws:
                    message = json.loads(raw)
                    kind = message["type"]
                    if kind == "ack" and message["request"] in pending:
                        acked[message["request"]] = message["revision"]
                    elif kind == "preview":
                        waiting = state["wait"]
                        if waiting and waiting in acked and message["revision"] >= acked[waiting]:
                            image = cv2.imdecode(np.frombuffer(base64.b64decode(message["image"].split(",", 1)[1]),
                                                               np.uint8), cv2.IMREAD_COLOR)  # "on screen"
                            assert image is not None
                            latencies.append((time.perf_counter() - pending.pop(waiting)) * 1000)
                            compute.append(message.get("compute_ms", float("nan")))
                            state["wait"] = None
                            done.set()
                    elif kind in ("error", "conflict"):
                        state["error"] = f"server answered {kind}: {message['message']}"
                        done.set()

            task = asyncio.create_task(reader())
            await ws.send(json.dumps({"type": "edit", "request": "setup", "ops": [
                {"op": "add_point", "point": {"id": point_id, "x": width * (0.2 + 0.6 * rng.random()),
                                              "y": height * (0.2 + 0.6 * rng.random()), "color": "#c04020", "radius": 3}}]}))
            for number in range(WARMUP_EDITS + edits):
                request = f"e{number}"
                done.clear()
                pending[request], state["wait"] = time.perf_counter(), request
                x, y = width * (0.1 + 0.8 * rng.random()), height * (0.1 + 0.8 * rng.random())
                await ws.send(json.dumps({"type": "edit", "request": request, "ops": [
                    {"op": "update_point", "id": point_id, "changes": {"x": round(x, 1), "y": round(y, 1)}}]}))
                await asyncio.wait_for(done.wait(), timeout=120)
                if state["error"]:
                    raise CommandError(state["error"])
                if number < WARMUP_EDITS:  # the first previews include loading the model
                    latencies.clear()
                    compute.clear()
                await asyncio.sleep(think * (0.5 + rng.random()))
            task.cancel()
        return {"latencies": latencies, "compute": compute}

    # --- Report --------------------------------------------------------------------------------------

    def _report(self, rows, width, height, edits, shared):
        self.stdout.write("")
        self.stdout.write(f"Hint edit -> decoded preview (512 px from {width}x{height}), {edits} timed edits per editor"
                          f"{', all on one keyframe' if shared else ', one keyframe each'}; CPU: {os.cpu_count()} cores")
        header = f"{'mode':<10}{'editors':>8}{'edits':>7}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'engine p50':>12}"
        self.stdout.write(header)
        self.stdout.write("-" * len(header))
        for mode, n, result in rows:
            self.stdout.write(self._row(mode, n, result))

    @staticmethod
    def _row(mode, n, result) -> str:
        lat, compute = result["latencies"], result["compute"]
        return (f"{mode:<10}{n:>8}{len(lat):>7}{percentile(lat, 50):>9.0f}{percentile(lat, 95):>9.0f}"
                f"{max(lat) if lat else float('nan'):>9.0f}{statistics.median(compute) if compute else float('nan'):>12.0f}")
