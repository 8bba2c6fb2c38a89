"""Child processes on this process's database and media: the web server and Celery workers that
`manage.py loadtest` measures and that the fault tests start, kill and restart.

    free_port()                          a TCP port nobody listens on
    database_env(port=None)              environment that points a child at this database
    child_env(extra)                     the whole environment of a child
    daphne_command(port)                 the web server's command line
    worker_command(queues, name, ...)    a Celery worker's command line (thread pool)
    wait_listening(port, processes)      until the port accepts connections
    stop(process)                        terminate, then kill
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from urllib.parse import quote

from django.conf import settings
from django.db import connection


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_env(port: int | None = None) -> dict:
    """Environment that points a child at the database this process uses (under pytest: the test
    database); `port` reaches PostgreSQL through another port (e.g. a proxy)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return {"COLORPROJ_SQLITE": str(db["NAME"]), "DATABASE_URL": ""}
    return {"DATABASE_URL": f"postgres://{quote(db['USER'] or '')}:{quote(db['PASSWORD'] or '')}@"
                            f"{db['HOST'] or '127.0.0.1'}:{port or db['PORT'] or 5432}/{quote(db['NAME'])}"}


def child_env(extra: dict | None = None) -> dict:
    return {**os.environ, **database_env(), "COLORPROJ_MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "PYTHONUNBUFFERED": "1", "DJANGO_DEBUG": "0",
            # DEBUG off, but static files from the source folders: no collectstatic step for each run.
            "COLORPROJ_STATIC_FINDERS": "1", **(extra or {})}


def daphne_command(port: int) -> list[str]:
    return [sys.executable, "-m", "colorproj.server", "-b", "127.0.0.1", "-p", str(port), "colorproj.asgi:application"]


def worker_command(queues: str, name: str, concurrency: int = 1, loglevel: str = "info",
                   program: list[str] | None = None) -> list[str]:
    """`program` replaces `python -m celery` (e.g. a script that wraps Celery's main)."""
    return [*(program or [sys.executable, "-m", "celery"]), "-A", "colorproj", "worker", "-Q", queues,
            "-P", "threads", "-c", str(concurrency), "-n", name, "--without-gossip", "--without-mingle",
            "--without-heartbeat", "-l", loglevel]


def wait_listening(port: int, processes: list[subprocess.Popen], timeout: float = 60) -> None:
    """Until 127.0.0.1:`port` accepts connections; RuntimeError if one of `processes` exits first
    or the time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        if any(process.poll() is not None for process in processes):
            raise RuntimeError(f"a process exited before port {port} was listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listened on port {port} within {timeout:.0f} s") from None
            time.sleep(0.2)


def stop(process: subprocess.Popen, timeout: float = 15) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
