"""Load test of the keyframe editor: annotators editing hints and viewers watching, with live previews.

Starts the real server (daphne) in a subprocess, and for the Celery mode a real Celery worker
on the "preview" queue over Redis, both on this command's database and media folder. Then, for
each number of annotators, real websocket clients with real sessions connect: every annotator
moves a color point on its own keyframe (all on one with --shared), and the viewers (reviewers
and producers, who may watch but not edit) are spread round-robin over the same keyframes and
only receive. It prints, per mode and number of annotators:

    p50/p95/p99     an annotator's edit -> the decoded preview of that revision or a newer one
                    (previews coalesce: a busy keyframe skips revisions)
    viewer p50/..   the same edit -> each viewer of that keyframe holding such a preview
    stale           previews older than a revision the client had already heard of
    dropped         edits with no preview within --timeout (the annotator goes on), plus
                    (edit, viewer) pairs that never got one
    errors          error/conflict/unavailable/preview_failed messages, failed or dropped
                    connections, clients past their deadline
    memory          RSS of daphne and of the Celery worker (with their child processes),
                    sampled every 0.5 s: start/peak/end per run, a plot (--plot) of all runs

    python manage.py loadtest --modes embedded                          # 1, 10, 50 annotators, 5 viewers
    python manage.py loadtest --modes embedded --annotators 1 3 --viewers 2 --edits 3
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/colorproj REDIS_URL=redis://127.0.0.1:6379/0 \\
        python manage.py loadtest --json loadtest.json                  # embedded and Celery

The Celery mode needs PostgreSQL (DATABASE_URL in the environment, migrated): the server and
the worker are separate processes sharing the database, and the command refuses SQLite for it.
The embedded mode runs on either. The command creates a throwaway project, users, sessions and
footage on the configured database and removes them afterwards, also on failure or Ctrl-C.
The clients run in this process, on the same machine: their CPU use counts against the server's.
"""
from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path, PurePosixPath

import cv2
import matplotlib
import numpy as np
import redis
import websockets
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from annotations import storage
from annotations.demo import synthetic_reel
from annotations.footage import actions as footage_actions
from annotations.keyframes import actions as keyframe_actions
from annotations.models import Role
from annotations.permissions import allow_project_creation
from annotations.projects import actions as project_actions
from inference.media import write_video
from tools.processes import child_env, daphne_command, free_port, stop, wait_listening, worker_command

matplotlib.use("Agg")  # charts go to PNG files; no display
from matplotlib import pyplot as plt  # noqa: E402  (after the backend is chosen)

WARMUP_EDITS = 3
WARMUP_TIMEOUT = 120  # the first preview of a server loads the network
SAMPLE_SECONDS = 0.5
SERVER_ERRORS = ("error", "conflict", "unavailable", "preview_failed", "deleted")
REVISION_MESSAGES = ("welcome", "hints", "ack", "preview")


def percentiles(values: list[float]) -> dict:
    keys = ("p50", "p95", "p99")
    if not values:
        return dict.fromkeys(keys)
    return {key: round(float(np.percentile(values, int(key[1:]))), 1) for key in keys}


@contextlib.contextmanager
def sigterm_as_interrupt():
    """SIGTERM stops the command like Ctrl-C does, so that its cleanup still runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# --- Memory ------------------------------------------------------------------------------------

def process_children() -> dict[int, list[int]]:
    children = defaultdict(list)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])  # the name may hold spaces
        except (OSError, IndexError, ValueError):
            continue
        children[ppid].append(int(stat.parent.name))
    return children


def vm_rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0  # exited, or a zombie


def tree_rss_mb(pid: int, children: dict[int, list[int]]) -> float:
    """Resident memory of `pid` and all its descendants."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        total += vm_rss_kb(current)
        todo += children.get(current, [])
    return round(total / 1024, 1)


class MemorySampler:
    """RSS of named process trees, sampled every SAMPLE_SECONDS in a thread (and on demand)."""

    def __init__(self, pids: dict[str, int]):
        self.pids, self.samples, self.started = pids, [], time.monotonic()
        self._lock, self._stop = threading.Lock(), threading.Event()
        self._thread = threading.Thread(target=self._loop, name="loadtest-memory", daemon=True)

    def __enter__(self) -> MemorySampler:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)

    def _loop(self):
        while not self._stop.wait(SAMPLE_SECONDS):
            self.sample()

    def sample(self) -> float:
        """Take a sample now; returns its time (seconds since the sampler started)."""
        with self._lock:
            children = process_children()
            row = {"t": round(time.monotonic() - self.started, 2),
                   **{name: tree_rss_mb(pid, children) for name, pid in self.pids.items()}}
            self.samples.append(row)
            return row["t"]

    def window(self, start: float, end: float) -> dict:
        """Start, peak and end RSS (MB) of each process between two sample times."""
        with self._lock:
            rows = [row for row in self.samples if start <= row["t"] <= end]
        return {name: {"start": rows[0][name], "peak": max(row[name] for row in rows), "end": rows[-1][name]}
                for name in self.pids}


# --- Fixture -----------------------------------------------------------------------------------

class Fixture:
    """A throwaway project: annotators (one keyframe each) and viewers with real sessions, on one
    ingested synthetic shot. remove() undoes whatever build() got to."""

    def __init__(self, tag: str):
        self.tag = tag
        self.users, self.session_keys, self.keyframes = [], [], []
        self.annotator_cookies, self.viewer_cookies = [], []
        self.project = self.footage = None

    def build(self, width: int, height: int, annotators: int, viewers: int) -> None:
        owner = self._user("a0")
        allow_project_creation(owner)
        self.project = project_actions.create_project(owner, f"Load test {self.tag}")
        editors = [owner]
        for i in range(1, annotators):
            editors.append(self._user(f"a{i}"))
            project_actions.add_member(self.project, owner, editors[-1], Role.ANNOTATOR)
        watchers = []
        for j in range(viewers):
            watchers.append(self._user(f"v{j}"))
            project_actions.add_member(self.project, owner, watchers[-1], (Role.REVIEWER, Role.PRODUCER)[j % 2])
        self._upload(owner, width, height, max(annotators, 2))
        footage_actions.ingest(self.footage)
        if self.footage.status != "ready":
            raise CommandError(f"the load test footage failed to ingest: {self.footage.error}")
        shot = self.footage.shots.get()
        self.keyframes = [keyframe_actions.add_keyframe(shot, owner, i).pk for i in range(annotators)]
        self.annotator_cookies = [self._login(user) for user in editors]
        self.viewer_cookies = [self._login(user) for user in watchers]

    def _user(self, name: str):
        self.users.append(get_user_model().objects.create_user(f"{self.tag}-{name}"))
        return self.users[-1]

    def _upload(self, owner, width: int, height: int, frame_count: int) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "reel.mp4"
            write_video(path, synthetic_reel(width, height, frame_count, scenes=1), Fraction(25), options={"crf": "20"})
            upload = TemporaryUploadedFile("loadtest.mp4", "video/mp4", path.stat().st_size, None)
            upload.write(path.read_bytes())
            upload.seek(0)
            self.footage = footage_actions.upload_footage(self.project, owner, upload, name="load test",
                                                          start_ingest=False)
            upload.close()

    def _login(self, user) -> str:
        """A session cookie, as the login view would set it."""

        session = SessionStore()
        session[SESSION_KEY], session[BACKEND_SESSION_KEY] = str(user.pk), "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        self.session_keys.append(session.session_key)
        return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"

    def remove(self) -> None:
        if self.footage is not None:
            storage.delete_tree(str(PurePosixPath(self.footage.derived_dir).parent))  # original and derived frames
        if self.project is not None:
            self.project.delete()
        Session.objects.filter(session_key__in=self.session_keys).delete()
        get_user_model().objects.filter(pk__in=[user.pk for user in self.users]).delete()


# --- Processes ---------------------------------------------------------------------------------

class Servers:
    """daphne (and, for the Celery mode, a Celery worker on the preview queue) in subprocesses, on
    this command's database and media, under a Redis key prefix of their own. Their log is removed
    afterwards unless keep_log is set (when a message points to it)."""

    def __init__(self, mode: str, redis: str, workers: int):
        self.mode, self.redis, self.workers = mode, redis, workers
        self.prefix = f"loadtest{os.getpid()}"
        self.server = self.worker = None
        self.keep_log = False

    def __enter__(self) -> Servers:
        env = child_env({"COLORPROJ_PREVIEW_THREADS": str(self.workers), "COLORPROJ_REDIS_PREFIX": self.prefix})
        if self.mode == "celery":
            env.update(REDIS_URL=self.redis, COLORPROJ_JOBS="celery")
        else:
            env.pop("REDIS_URL", None)
            env["COLORPROJ_JOBS"] = "embedded"
        self.port = free_port()
        self.log = tempfile.NamedTemporaryFile("w+", suffix=".log", prefix=f"loadtest-{self.mode}-", delete=False)
        self.server = subprocess.Popen(daphne_command(self.port), env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                       cwd=settings.BASE_DIR)
        if self.mode == "celery":
            self.worker = subprocess.Popen(
                worker_command("preview", f"{self.prefix}@localhost", self.workers, loglevel="warning"),
                env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=settings.BASE_DIR)
        try:
            wait_listening(self.port, self.processes)
        except BaseException as exc:
            self.keep_log = True
            self.__exit__()
            if isinstance(exc, RuntimeError):
                raise CommandError(f"the {self.mode} server did not start ({exc}); see {self.log.name}") from None
            raise
        return self

    @property
    def processes(self) -> list[subprocess.Popen]:
        return [p for p in (self.server, self.worker) if p is not None]

    def pids(self) -> dict[str, int]:
        return {"server": self.server.pid, **({"worker": self.worker.pid} if self.worker else {})}

    def __exit__(self, *exc):
        for process in self.processes:
            stop(process)
        self.log.close()
        if self.mode == "celery":
            self._forget_redis_keys()
        if not self.keep_log:
            os.unlink(self.log.name)

    def _forget_redis_keys(self) -> None:
        """Channel layer, Celery queue and preview state of this run (all under its prefix)."""

        try:
            client = redis.Redis.from_url(self.redis, socket_connect_timeout=2, socket_timeout=10)
            keys = list(client.scan_iter(match=f"{self.prefix}:*", count=1000))
            if keys:
                client.delete(*keys)
        except redis.RedisError as exc:
            sys.stderr.write(f"could not remove the Redis keys {self.prefix}:*: {exc}\n")


# --- Clients -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Plan:
    port: int
    edits: int          # timed edits per annotator
    think: float        # mean pause between an annotator's edits, seconds
    timeout: float      # how long an edit waits for its preview before it counts as dropped
    width: int
    height: int
    shared: bool

    @property
    def deadline(self) -> float:
        """The longest an annotator may take: every edit (and the setup) timing out, plus slack."""
        return (self.edits + 1) * (self.timeout + 1.5 * self.think) + 60


@dataclass
class Run:
    """What the clients of one run counted."""
    plan: Plan
    annotator_ms: list[float] = field(default_factory=list)
    viewer_ms: list[float] = field(default_factory=list)
    engine_ms: list[float] = field(default_factory=list)
    edits: int = 0
    previews: int = 0
    stale: int = 0
    dropped: int = 0
    viewer_dropped: int = 0
    errors: Counter = field(default_factory=Counter)
    # keyframe -> (revision, sent at) of every acknowledged edit, for the viewers' latencies
    acked: dict[int, list[tuple[int, float]]] = field(default_factory=lambda: defaultdict(list))

    def head(self, keyframe: int) -> int:
        return max((revision for revision, _ in self.acked[keyframe]), default=0)

    def add_viewer(self, viewer: Viewer) -> None:
        """Time every edit of the viewer's keyframe to the first preview that covers it."""
        for revision, sent in self.acked[viewer.keyframe]:
            arrival = next((t for r, t in viewer.previews if r >= revision and t >= sent), None)
            if arrival is None or arrival - sent > self.plan.timeout:
                self.viewer_dropped += 1
            else:
                self.viewer_ms.append((arrival - sent) * 1000)


class Client:
    """One websocket on a keyframe. Keeps the newest revision it has heard of, shows previews as
    the editor does (never one older than on screen) and counts what it gets into the run."""

    def __init__(self, run: Run, cookie: str, keyframe: int):
        self.run, self.cookie, self.keyframe = run, cookie, keyframe
        self.known = self.shown = 0
        self.shown_at, self.shown_engine_ms = 0.0, None
        self.previews: list[tuple[int, float]] = []  # (revision, received at)
        self.ws, self.welcomed, self.ended = None, False, False

    async def session(self, deadline: float, delay: float = 0.0) -> None:
        await asyncio.sleep(delay)
        port = self.run.plan.port
        try:
            async with asyncio.timeout(deadline):
                async with websockets.connect(
                        f"ws://127.0.0.1:{port}/ws/keyframes/{self.keyframe}/", max_size=2**24,
                        additional_headers={"Cookie": self.cookie, "Origin": f"http://127.0.0.1:{port}"},
                        open_timeout=self.run.plan.timeout, close_timeout=5) as ws:
                    self.ws = ws
                    await self._serve(ws)
        except TimeoutError:
            self.run.errors["connect" if self.ws is None else "deadline"] += 1
        except websockets.ConnectionClosed:
            self.run.errors["closed"] += 1
        except (OSError, websockets.InvalidHandshake):
            self.run.errors["connect"] += 1
        finally:
            self.ended = True

    async def _serve(self, ws) -> None:
        reader, work = asyncio.create_task(self._read(ws)), asyncio.create_task(self.work())
        try:
            done, _ = await asyncio.wait({reader, work}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            reader.cancel()
            work.cancel()
            await asyncio.gather(reader, work, return_exceptions=True)
        if work in done:
            work.result()  # a send on a closed socket raises here
            return
        failure = reader.exception()
        if failure is not None and not isinstance(failure, websockets.ConnectionClosed):
            raise failure
        self.run.errors["closed"] += 1  # the server closed the socket while we were busy

    async def _read(self, ws) -> None:
        async for raw in ws:
            self.receive(json.loads(raw), time.perf_counter())

    def receive(self, message: dict, now: float) -> None:
        kind, revision = message.get("type"), message.get("revision")
        if kind == "preview":
            self.run.previews += 1
            self.previews.append((revision, now))
            if revision < self.known:
                self.run.stale += 1
            if revision >= self.shown:
                self._show(message["image"])
                self.shown, self.shown_at, self.shown_engine_ms = revision, now, message.get("compute_ms")
        elif kind in SERVER_ERRORS:
            self.run.errors[kind] += 1
        elif kind == "welcome":
            self.welcomed = True
        if kind in REVISION_MESSAGES and isinstance(revision, int):
            self.known = max(self.known, revision)
        self.on_message(kind, message)

    def _show(self, image: str) -> None:
        """Decode the JPEG, as a browser does before the preview is on screen."""
        data = np.frombuffer(base64.b64decode(image.split(",", 1)[1]), np.uint8)
        if cv2.imdecode(data, cv2.IMREAD_COLOR) is None:
            self.run.errors["undecodable preview"] += 1

    def on_message(self, kind: str, message: dict) -> None:
        pass

    async def work(self) -> None:
        raise NotImplementedError


@dataclass
class Edit:
    request: str
    timed: bool
    sent: float = field(default_factory=time.perf_counter)
    revision: int | None = None       # from the ack
    preview_at: float | None = None   # when a preview of `revision` or newer was on screen
    answered: asyncio.Event = field(default_factory=asyncio.Event)


class Annotator(Client):
    """Adds a color point, then moves it --edits times, each time waiting for the preview."""

    def __init__(self, run: Run, cookie: str, keyframe: int, seed: int):
        super().__init__(run, cookie, keyframe)
        self.rng, self.count, self.pending = random.Random(seed), 0, None

    async def work(self) -> None:
        plan, point = self.run.plan, uuid.uuid4().hex[:12]
        await self.edit([{"op": "add_point", "point": {"id": point, **self._spot(0.2, 0.6), "color": "#c04020",
                                                      "radius": 3}}], timed=False)
        for _ in range(plan.edits):
            await self.edit([{"op": "update_point", "id": point, "changes": self._spot(0.1, 0.8)}], timed=True)
            await asyncio.sleep(plan.think * (0.5 + self.rng.random()))

    def _spot(self, margin: float, span: float) -> dict:
        plan = self.run.plan
        return {"x": round(plan.width * (margin + span * self.rng.random()), 1),
                "y": round(plan.height * (margin + span * self.rng.random()), 1)}

    async def edit(self, ops: list[dict], timed: bool) -> None:
        self.count += 1
        self.pending = edit = Edit(f"e{self.count}", timed)
        await self.ws.send(json.dumps({"type": "edit", "request": edit.request, "ops": ops}))
        if timed:
            self.run.edits += 1
        try:
            await asyncio.wait_for(edit.answered.wait(), self.run.plan.timeout)
        except TimeoutError:
            if timed:
                self.run.dropped += 1
        self.pending = None
        if timed and edit.preview_at is not None:
            self.run.annotator_ms.append((edit.preview_at - edit.sent) * 1000)
            if self.shown_engine_ms is not None:
                self.run.engine_ms.append(self.shown_engine_ms)

    def on_message(self, kind: str, message: dict) -> None:
        edit = self.pending
        if edit is None or edit.answered.is_set():
            return
        if kind == "ack" and message.get("request") == edit.request:
            edit.revision = message["revision"]
            self.run.acked[self.keyframe].append((edit.revision, edit.sent))
        elif kind in SERVER_ERRORS and (message.get("request") == edit.request or (
                kind == "preview_failed" and edit.revision is not None and message["revision"] >= edit.revision)):
            edit.answered.set()  # failed: counted as an error, not as dropped
        # The preview may have come before the ack (another editor's newer revision, say).
        if edit.revision is not None and self.shown >= edit.revision:
            edit.preview_at = self.shown_at
            edit.answered.set()


class Viewer(Client):
    """Watches a keyframe until the run tells it to leave."""

    def __init__(self, run: Run, cookie: str, keyframe: int):
        super().__init__(run, cookie, keyframe)
        self.leave = asyncio.Event()

    async def work(self) -> None:
        await self.leave.wait()


async def wait_until(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


async def drive(plan: Plan, fixture: Fixture, annotators: int, viewers: int) -> Run:
    run = Run(plan)
    keyframes = fixture.keyframes[:1] if plan.shared else fixture.keyframes[:annotators]
    editors = [Annotator(run, fixture.annotator_cookies[i], keyframes[i % len(keyframes)], seed=i)
               for i in range(annotators)]
    watchers = [Viewer(run, fixture.viewer_cookies[j], keyframes[j % len(keyframes)]) for j in range(viewers)]
    watching = [asyncio.create_task(v.session(plan.deadline + plan.timeout + 30)) for v in watchers]
    try:
        await wait_until(lambda: all(v.welcomed or v.ended for v in watchers), plan.timeout)
        # Annotators start a little apart, as people do, then work at their own pace.
        await asyncio.gather(*(a.session(plan.deadline, delay=i * 0.05) for i, a in enumerate(editors)))
        # The viewers get the previews of the last edits, then leave.
        await wait_until(lambda: all(v.ended or v.shown >= run.head(v.keyframe) for v in watchers), plan.timeout)
    finally:
        for viewer in watchers:
            viewer.leave.set()
        await asyncio.gather(*watching)
    for viewer in watchers:
        run.add_viewer(viewer)
    return run


# --- Command -----------------------------------------------------------------------------------

COLUMNS = (("mode", "<10"), ("annot.", ">7"), ("viewers", ">8"), ("edits", ">6"), ("p50 ms", ">8"),
           ("p95 ms", ">8"), ("p99 ms", ">8"), ("view p50", ">9"), ("view p95", ">9"), ("view p99", ">9"),
           ("previews", ">9"), ("stale", ">6"), ("dropped", ">8"), ("errors", ">7"), ("server MB", ">10"),
           ("worker MB", ">10"))


def _number(value) -> str:
    return "-" if value is None else f"{value:.0f}"


class Command(BaseCommand):
    help = ("Load test of the keyframe editor: N annotators editing hints and M viewers, embedded and on Celery; "
            "prints preview latency percentiles, stale and dropped previews, errors and server/worker memory.")

    def add_arguments(self, parser):
        parser.add_argument("--modes", nargs="+", default=["embedded", "celery"], choices=["embedded", "celery"])
        parser.add_argument("--annotators", nargs="+", type=int, default=[1, 10, 50],
                            help="numbers of annotators, one run each")
        parser.add_argument("--viewers", type=int, default=5, help="read-only viewers, spread over the keyframes")
        parser.add_argument("--edits", type=int, default=10, help="timed edits per annotator")
        parser.add_argument("--think-ms", type=int, default=250, help="mean pause between an annotator's edits")
        parser.add_argument("--timeout", type=float, default=30,
                            help="seconds an edit waits for its preview before it counts as dropped")
        parser.add_argument("--size", default="1280x720", help="source frame size (previews are 512 px)")
        parser.add_argument("--shared", action="store_true", help="all annotators and viewers on one keyframe")
        parser.add_argument("--redis", default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
        parser.add_argument("--preview-workers", type=int, default=2, help="preview threads / Celery concurrency")
        parser.add_argument("--plot", default="loadtest-memory.png", help="PNG of server and worker RSS over time")
        parser.add_argument("--json", dest="json_path", help="write every number measured to this JSON file")

    def handle(self, *args, modes, annotators, viewers, edits, think_ms, timeout, size, shared, redis,
               preview_workers, plot, json_path, **options):
        width, height = (int(v) for v in size.lower().split("x"))
        if min(annotators) < 1 or viewers < 0 or edits < 1:
            raise CommandError("--annotators must be at least 1, --edits at least 1 and --viewers at least 0")
        if "celery" in modes:
            self._check_celery(redis)
        plan = Plan(port=0, edits=edits, think=think_ms / 1000, timeout=timeout, width=width, height=height,
                    shared=shared)
        fixture = Fixture(f"loadtest-{os.getpid()}")
        runs, timelines = [], []
        with sigterm_as_interrupt():
            try:
                self.stdout.write(f"Setting up {max(annotators)} annotators and {viewers} viewers on a "
                                  f"{width}x{height} shot…")
                fixture.build(width, height, max(annotators), viewers)
                for mode in modes:
                    mode_runs, timeline = self._mode(mode, plan, fixture, annotators, viewers, redis, preview_workers)
                    runs += mode_runs
                    timelines.append(timeline)
            except KeyboardInterrupt:
                raise CommandError("interrupted") from None
            finally:
                self.stdout.write("Removing the load test's project, users, sessions and footage…")
                fixture.remove()
        self._report(runs, plan)
        self._plot(plot, timelines)
        if json_path:
            Path(json_path).write_text(json.dumps(
                {"size": [width, height], "edits_per_annotator": edits, "think_ms": think_ms, "timeout_s": timeout,
                 "shared": shared, "preview_workers": preview_workers, "cpus": os.cpu_count(),
                 "database": connection.vendor, "runs": runs, "memory": timelines}, indent=1))
            self.stdout.write(f"Numbers: {json_path}")

    def _check_celery(self, redis_url: str) -> None:
        if connection.vendor == "sqlite":
            raise CommandError(
                "the celery mode needs PostgreSQL, shared by the server and the worker: run it with "
                "DATABASE_URL=postgres://user@host:5432/name (migrated), or use --modes embedded")
        try:
            redis.Redis.from_url(redis_url, socket_connect_timeout=2).ping()
        except redis.RedisError as exc:
            raise CommandError(f"the celery mode needs Redis at {redis_url} (--redis): {exc}") from None

    def _mode(self, mode, plan, fixture, annotators, viewers, redis, workers) -> tuple[list[dict], dict]:
        self.stdout.write(f"{mode}: starting daphne{' and a Celery worker' if mode == 'celery' else ''}…")
        runs, timeline = [], {"mode": mode, "runs": []}
        with Servers(mode, redis, workers) as servers, MemorySampler(servers.pids()) as memory:
            plan = replace(plan, port=servers.port)
            self.stdout.write(f"{mode}: warm-up, {WARMUP_EDITS} edits (loads the network)…")
            warm = asyncio.run(drive(replace(plan, edits=WARMUP_EDITS, timeout=WARMUP_TIMEOUT), fixture, 1, 0))
            if not warm.annotator_ms:
                servers.keep_log = True
                raise CommandError(f"{mode}: no preview came back during the warm-up ({dict(warm.errors)}); "
                                   f"see {servers.log.name}")
            for n in annotators:
                self.stdout.write(f"{mode}: {n} annotator{'s' if n != 1 else ''}, {viewers} viewer"
                                  f"{'s' if viewers != 1 else ''}…")
                start = memory.sample()
                run = asyncio.run(drive(plan, fixture, n, viewers))
                end = memory.sample()
                runs.append(self._summary(mode, n, viewers, run, memory.window(start, end)))
                timeline["runs"].append({"annotators": n, "start": start, "end": end})
                self.stdout.write("    " + self._progress(runs[-1]))
            if any(run["errors"] for run in runs):
                servers.keep_log = True
                self.stdout.write(f"{mode}: errors were counted; the server log is kept: {servers.log.name}")
        timeline["samples"] = memory.samples
        return runs, timeline

    @staticmethod
    def _summary(mode: str, annotators: int, viewers: int, run: Run, memory: dict) -> dict:
        return {"mode": mode, "annotators": annotators, "viewers": viewers, "edits": run.edits,
                "annotator": percentiles(run.annotator_ms), "viewer": percentiles(run.viewer_ms),
                "engine_p50_ms": percentiles(run.engine_ms)["p50"], "previews": run.previews, "stale": run.stale,
                "dropped": run.dropped + run.viewer_dropped, "dropped_annotator": run.dropped,
                "dropped_viewer": run.viewer_dropped, "errors": dict(run.errors), "memory": memory,
                "raw": {"annotator_ms": [round(v, 1) for v in run.annotator_ms],
                        "viewer_ms": [round(v, 1) for v in run.viewer_ms], "engine_ms": run.engine_ms}}

    @staticmethod
    def _progress(run: dict) -> str:
        def triple(p):
            return "/".join(_number(p[key]) for key in ("p50", "p95", "p99"))

        errors = ", ".join(f"{kind} {count}" for kind, count in run["errors"].items()) or "0"
        memory = "; ".join(f"{name} {m['start']:.0f}/{m['peak']:.0f}/{m['end']:.0f}"
                           for name, m in run["memory"].items())
        return (f"annotators p50/p95/p99 {triple(run['annotator'])} ms, viewers {triple(run['viewer'])} ms, "
                f"engine p50 {_number(run['engine_p50_ms'])} ms; {run['previews']} previews, {run['stale']} stale, "
                f"{run['dropped_annotator']}+{run['dropped_viewer']} dropped, errors {errors}; "
                f"RSS MB start/peak/end {memory}")

    def _report(self, runs: list[dict], plan: Plan) -> None:
        self.stdout.write("")
        self.stdout.write(f"Hint edit -> decoded preview (512 px from {plan.width}x{plan.height}), {plan.edits} timed "
                          f"edits per annotator{', all on one keyframe' if plan.shared else ', one keyframe each'}, "
                          f"viewers round-robin over those keyframes; timeout {plan.timeout:g} s; "
                          f"database {connection.vendor}; CPU: {os.cpu_count()} cores")
        header = "".join(f"{title:{align}}" for title, align in COLUMNS)
        self.stdout.write(header)
        self.stdout.write("-" * len(header))
        for run in runs:
            memory = run["memory"]
            values = (run["mode"], run["annotators"], run["viewers"], run["edits"],
                      *(_number(run["annotator"][k]) for k in ("p50", "p95", "p99")),
                      *(_number(run["viewer"][k]) for k in ("p50", "p95", "p99")),
                      run["previews"], run["stale"], run["dropped"], sum(run["errors"].values()),
                      _number(memory["server"]["peak"]), _number(memory.get("worker", {}).get("peak")))
            self.stdout.write("".join(f"{value:{align}}" for value, (_, align) in zip(values, COLUMNS)))
        self.stdout.write("view: the same edit until each viewer of the keyframe has the preview. stale: previews "
                          "older than a revision the client knew. dropped: edits without a preview within the "
                          "timeout, plus (edit, viewer) pairs without one. MB: peak RSS with child processes.")

    def _plot(self, path: str, timelines: list[dict]) -> None:
        if not timelines:
            return

        figure, axes = plt.subplots(len(timelines), 1, figsize=(10, 3.2 * len(timelines)), squeeze=False)
        for ax, timeline in zip(axes[:, 0], timelines):
            times = [row["t"] for row in timeline["samples"]]
            for name in (key for key in timeline["samples"][0] if key != "t"):
                ax.plot(times, [row[name] for row in timeline["samples"]], label=name)
            for index, run in enumerate(timeline["runs"]):
                ax.axvspan(run["start"], run["end"], color=f"C{index % 10}", alpha=0.08)
                ax.annotate(f"{run['annotators']} ann.", (run["start"], 1), xycoords=("data", "axes fraction"),
                            va="top", fontsize=8)
            ax.set_title(f"{timeline['mode']}: RSS with child processes")
            ax.set_ylabel("MB")
            ax.legend(loc="lower right")
        axes[-1, 0].set_xlabel("seconds since the servers started (shaded: the runs; before them the warm-up)")
        figure.tight_layout()
        figure.savefig(path, dpi=100)
        plt.close(figure)
        self.stdout.write(f"Memory plot: {path}")
