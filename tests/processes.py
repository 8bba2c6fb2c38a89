"""Real processes for tests that start, kill and restart parts of the system (on top of
tools.processes, which the load test shares).

    wait_until(predicate, timeout)   poll until predicate() is truthy
    start_server(env, log, port)     daphne serving colorproj.asgi; .url is its base URL
    start_worker(queues, log, ...)   a Celery worker (optionally slowed down, see slow_worker.py)
    RedisServer(dir)                 a private redis-server that can be stopped and started again
    TcpProxy(port)                   a proxy to a TCP service whose link can be cut and restored
Also from tools.processes: free_port, database_env, stop.
"""
from __future__ import annotations

import selectors
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from django.conf import settings

from tools.processes import (child_env, daphne_command, database_env, free_port, stop,  # noqa: F401
                                 wait_listening, worker_command)

HERE = Path(__file__).resolve().parent


def wait_port(port: int, process: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    try:
        wait_listening(port, [process], timeout)
    except RuntimeError as exc:
        raise RuntimeError(f"{process.args[:3]}: {exc}:\n{log.read_text()[-3000:]}") from None


def wait_until(predicate, timeout: float = 60, what: str = "the condition", interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
    return value


def _env(extra: dict | None) -> dict:
    return child_env({"PYTHONPATH": str(HERE.parent), **(extra or {})})  # slow_worker.py imports the project


def start_server(env: dict | None, log: Path, port: int | None = None) -> subprocess.Popen:
    """daphne on `port` (default: a free one), on the test database, with `env` on top."""
    port = port or free_port()
    server = subprocess.Popen(daphne_command(port), env=_env(env), stdout=open(log, "a"),
                              stderr=subprocess.STDOUT, cwd=settings.BASE_DIR)
    try:
        wait_port(port, server, log)
    except RuntimeError:
        stop(server)
        raise
    server.url, server.port, server.env, server.log_path = f"http://127.0.0.1:{port}", port, env, log
    return server


def start_worker(queues: str, log: Path, *, slow: bool = False, env: dict | None = None,
                 broker: str | None = None, concurrency: int = 1) -> subprocess.Popen:
    """A Celery worker on `queues` (comma-separated), in `concurrency` threads, on the test
    database; `slow` runs it through tests/slow_worker.py, `broker` gives it a Redis of its own."""
    from celery import Celery

    name = f"{'slow' if slow else 'worker'}-{uuid.uuid4().hex[:6]}@localhost"
    program = [sys.executable, str(HERE / "slow_worker.py")] if slow else None
    env = {**(env or {}), **({"REDIS_URL": broker} if broker else {})}
    process = subprocess.Popen(worker_command(queues, name, concurrency, program=program), cwd=settings.BASE_DIR,
                               stdout=open(log, "w"), stderr=subprocess.STDOUT, env=_env(env))
    from colorproj.celery import app

    control = app
    if broker is not None:  # a private broker, same key prefix
        control = Celery(broker=broker, set_as_current=False)  # the suite keeps using its own app
        control.conf.broker_transport_options = app.conf.broker_transport_options
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"worker exited:\n{log.read_text()[-3000:]}")
        if control.control.ping(destination=[name], timeout=0.5):
            process.name = name
            return process
    stop(process)
    raise AssertionError(f"worker not ready:\n{log.read_text()[-3000:]}")


class RedisServer:
    """A redis-server of the test's own, persisting to an append-only file so that a restart
    keeps queued jobs, as a production broker must."""

    def __init__(self, folder: Path):
        self.folder, self.port, self.process = folder, free_port(), None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed"
        log = self.folder / "redis.log"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
             "--appendfsync", "always", "--dir", str(self.folder)], stdout=open(log, "a"), stderr=subprocess.STDOUT)
        wait_port(self.port, self.process, log)
        return self

    def stop(self) -> None:
        """A clean shutdown (SIGTERM), like a restart by the service manager."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(15)


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a TCP service. `cut()` drops every connection and refuses new
    ones (the service looks down to its clients); `restore()` lets them through again."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1"):
        self.target = (target_host, target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up, self.pairs, self.lock = True, [], threading.Lock()
        self.accepted = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            if not self.up:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.pairs.append((client, upstream))
                self.accepted += 1
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        selector = selectors.DefaultSelector()
        selector.register(client, selectors.EVENT_READ, upstream)
        selector.register(upstream, selectors.EVENT_READ, client)
        try:
            while True:
                for key, _ in selector.select():
                    data = key.fileobj.recv(65536)
                    if not data:
                        return
                    key.data.sendall(data)
        except OSError:
            return
        finally:
            selector.close()
            self._drop(client, upstream)

    def _drop(self, client, upstream) -> None:
        for end in (client, upstream):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            end.close()
        with self.lock:
            if (client, upstream) in self.pairs:
                self.pairs.remove((client, upstream))

    def cut(self) -> None:
        self.up = False
        with self.lock:
            pairs = list(self.pairs)
        for pair in pairs:
            self._drop(*pair)

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self.cut()
        self.listener.close()
