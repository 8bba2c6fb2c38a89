"""One way to run background work: `enqueue("module.job_name", *args)`.

A job is a module-level function registered with `@job(queue=...)`; its arguments must be
JSON-serialisable (ids, not objects). Actions enqueue jobs by name ("annotations.render.tasks.
prepare_render"), so they never import the tasks modules that call them; `annotations.tasks`
imports every tasks module at start-up. A job runs after the surrounding transaction commits:

- embedded mode (default): in a thread pool of this process, one pool per queue; with
  COLORPROJ_JOB_PROCESSES a "batch" job's body (decoding, encoding, the engines) runs in a child
  process of its own (spawned, so no thread or lock of the web server is copied), so a native
  crash or an out-of-memory kill there fails that job, through the job's `on_crash`, never the
  web server;
- distributed mode (COLORPROJ_JOBS=celery): as a Celery task sent to the queue, so any
  worker consuming "preview" or "batch" (another machine, a GPU box) picks it up.

Jobs themselves are thin: load rows by id, call an action or engine function. Every job is
idempotent, which is what makes the two kinds of retry safe: a job whose worker died is handed
out again (Celery: acks late), and a job that met a database it could not reach (a restart, a
failover, a network cut) raises `transient` errors and runs again a little later, from the start.
"""
from __future__ import annotations

import importlib
import logging
import multiprocessing
import os
import pickle
import signal
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Callable

import django
from asgiref.sync import async_to_sync
from celery import shared_task
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections, connections, transaction

QUEUES = ("preview", "batch")
# Errors that say "the database is not reachable right now", not "this job cannot work".
TRANSIENT_ERRORS = (OperationalError, InterfaceError)
# Retries of a transient error: after 1, 2, 4 ... 30 s (about three minutes in all). Declared once,
# on the Celery task; the embedded pool reads the same settings and Celery's backoff function.
RETRY_FIRST, RETRY_LONGEST, RETRIES = 1, 30, 10
log = logging.getLogger("colorproj.jobs")

_tasks: dict[str, object] = {}     # job name -> Celery task
_jobs: dict[str, Callable] = {}     # job name -> function
_pools: dict[str, ThreadPoolExecutor] = {}
_pending: set[Future] = set()
_lock = threading.Lock()
# In a job's child process: sends a message to the parent. A job the child's job enqueues is run
# by the parent, not in the child, which ends (and can no longer relay anything) with its job.
_to_parent: Callable[[tuple], None] | None = None
# Spawned, not forked: no thread or lock of the web server is copied, and (unlike a forkserver) no
# socket file in a temporary folder that a long-lived process can lose. Each child imports anew.
_child_context = multiprocessing.get_context("spawn")


def _send_event(group: str, message: dict) -> None:
    async_to_sync(_channel_layer().group_send)(group, message)


def _channel_layer():
    from channels.layers import get_channel_layer  # noqa: PLC0415 (channels' registry reads settings)
    return get_channel_layer()


def child_events_to(send: Callable[[str, dict], None]) -> None:
    """Hand the live events that jobs running in child processes send to `send(group, message)`
    in this process (annotations.events does: the in-memory channel layer lives here)."""
    global _send_event
    _send_event = send


def job(*, queue: str, on_crash: Callable | None = None):
    """Register a function as a background job on `queue` (also a Celery task of the same name).

    In embedded mode a "batch" job runs in a child process; if that process dies (a native crash,
    an out-of-memory kill), `on_crash(*args, reason=...)` runs here to record the failure.
    """
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}; use one of {QUEUES}")

    def register(func: Callable) -> Callable:
        name = f"{func.__module__}.{func.__name__}"
        _tasks[name] = shared_task(  # queue chosen per send
            name=name, ignore_result=True, autoretry_for=TRANSIENT_ERRORS, max_retries=RETRIES,
            retry_backoff=RETRY_FIRST, retry_backoff_max=RETRY_LONGEST, retry_jitter=False)(func)
        func.job_name, func.job_queue, func.on_crash = name, queue, on_crash
        _jobs[name] = func
        return func

    return register


def enqueue(name: str | Callable, *args, queue: str | None = None) -> None:
    """Run the job registered as `name` (or the `@job` function itself) with `args` in the background
    once the current transaction commits. `queue` sends it to another Celery queue (dedicated
    workers); embedded mode runs it in its own queue's threads. KeyError, at once, for a name no
    `@job` registered."""
    name = name if isinstance(name, str) else name.job_name
    func = _jobs.get(name)
    if func is None:
        raise KeyError(f"no background job is registered as {name!r}")
    transaction.on_commit(lambda: _submit(func, args, queue or func.job_queue))


def _submit(func: Callable, args: tuple, queue: str) -> None:
    if settings.JOBS_MODE == "celery":
        _tasks[func.job_name].apply_async(args=list(args), queue=queue)
        return
    if _to_parent is not None:  # in a job's child: the web server runs what the job asks for
        _to_parent(("enqueue", func.job_name, args, queue))
        return
    queue = func.job_queue  # in-process, a job runs in its own queue's pool whatever it was routed to
    with _lock:
        pool = _pools.get(queue)
        if pool is None:
            pool = _pools[queue] = ThreadPoolExecutor(settings.JOBS_THREADS[queue], thread_name_prefix=f"job-{queue}")
        future = pool.submit(_run_in_thread, func, args)
        _pending.add(future)
    future.add_done_callback(lambda f: _pending.discard(f))


def _run_in_thread(func: Callable, args: tuple) -> None:
    """Run the job as its Celery task would retry it: on `autoretry_for` errors, up to `max_retries`
    times, `retry_backoff` seconds later, doubling up to `retry_backoff_max`."""
    task = _tasks[func.job_name]
    for retries in range(task.max_retries + 1):
        close_old_connections()
        try:
            if func.job_queue == "batch" and settings.COLORPROJ_JOB_PROCESSES:
                _run_in_child(func, args)
            else:
                func(*args)
            return
        except task.autoretry_for as exc:
            if retries == task.max_retries:
                log.error("job %s%r gave up: the database stayed unreachable (%s)", func.job_name, args, exc)
                return
            delay = get_exponential_backoff_interval(task.retry_backoff, retries, task.retry_backoff_max,
                                                     task.retry_jitter)
            log.warning("job %s%r: database unreachable (%s); again in %ss", func.job_name, args, exc, delay)
        except Exception:  # the job records its own failure on its rows; keep the pool alive
            log.exception("job %s%r failed", func.job_name, args)
            return
        finally:
            connections.close_all()
        time.sleep(delay)


def drain(timeout: float | None = None) -> bool:
    """Wait for in-process jobs (embedded mode) to finish, including ones they enqueue."""
    while True:
        with _lock:
            pending = set(_pending)
        if not pending:
            return True
        done, not_done = wait(pending, timeout=timeout)
        if not_done:
            return False


# --- Batch jobs in child processes (embedded mode) --------------------------------------------

class TransientInChild(OperationalError):
    """The job's child met an unreachable database: retried like the job itself would be."""


def _settings_snapshot() -> dict:
    """This process's settings as they are now (tests change them at run time), for the child."""
    snapshot = {}
    for name in dir(settings):
        if name.isupper() and name != "CHANNEL_LAYERS":
            value = getattr(settings, name)
            try:
                pickle.dumps(value)
            except Exception:  # a setting that cannot travel (a callable); the child keeps its own
                continue
            snapshot[name] = value
    return snapshot


def _exit_reason(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        name = signal.Signals(-exitcode).name
        if -exitcode == signal.SIGKILL:
            return f"its process was killed ({name}; most often the system ran out of memory)"
        return f"its process crashed ({name})"
    return f"its process exited with status {exitcode} before finishing"


def _run_in_child(func: Callable, args: tuple) -> None:
    """Run the job in a child process; relay its live events; raise TransientInChild for an
    unreachable database; call `func.on_crash` if the child dies without finishing."""
    receiver, sender = _child_context.Pipe(duplex=False)
    process = _child_context.Process(target=_child_main, name=f"job {func.job_name}",
                                     args=(sender, func.job_name, args, _settings_snapshot()))
    process.start()
    sender.close()
    outcome = None
    with receiver:
        while True:
            try:
                message = receiver.recv()
            except EOFError:
                break
            if message[0] == "event":
                try:
                    _send_event(*message[1:])
                except Exception:  # a live update is best-effort
                    log.exception("could not relay an event of job %s", func.job_name)
            elif message[0] == "enqueue":
                name, job_args, queue = message[1:]
                _submit(_jobs[name], job_args, queue)
            else:
                outcome = message
    process.join()
    if outcome is None:
        reason = f"the job stopped: {_exit_reason(process.exitcode)}"
        log.error("job %s%r: %s", func.job_name, args, reason)
        if func.on_crash is not None:
            func.on_crash(*args, reason=reason)
    elif outcome[0] == "transient":
        raise TransientInChild(outcome[1])


class _ParentRelay:
    """The channel layer of a job's child: group sends go to the parent, which delivers them."""

    extensions: list = []

    def __init__(self, **_):
        pass

    async def group_send(self, group: str, message: dict) -> None:
        _ParentRelay.send(("event", group, message))


def _child_main(sender, name: str, args: tuple, snapshot: dict) -> None:
    """The body of a job's child process (spawned by `_run_in_child`)."""
    django.setup()
    for key, value in snapshot.items():
        setattr(settings, key, value)
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "colorproj.jobs._ParentRelay"}}
    for alias, config in settings.DATABASES.items():  # the parent's databases (under tests: the test ones)
        connections[alias].close()
        connections[alias].settings_dict.update(config)
    lock = threading.Lock()

    def send(message):
        with lock:
            sender.send(message)

    global _to_parent
    _ParentRelay.send = staticmethod(send)
    _to_parent = send
    func = _jobs.get(name) or getattr(importlib.import_module(name.rsplit(".", 1)[0]), name.rsplit(".", 1)[1])
    if name in settings.COLORPROJ_CRASH_JOBS:  # the fault tests' way to crash a job natively
        os.kill(os.getpid(), signal.SIGSEGV)
    try:
        func(*args)
        send(("done",))
    except TRANSIENT_ERRORS as exc:
        send(("transient", str(exc)))
    except Exception as exc:  # the job records its own failure on its rows
        log.exception("job %s%r failed", name, args)
        send(("failed", f"{exc.__class__.__name__}: {exc}"))
    finally:
        connections.close_all()
        sender.close()
