"""One way to run background work: `enqueue("module.job_name", *args)`.

A job is a module-level function registered with `@job(queue=...)`; its arguments must be
JSON-serialisable (ids, not objects). Actions enqueue jobs by name ("annotations.render.tasks.
prepare_render"), so they never import the tasks modules that call them; `annotations.tasks`
imports every tasks module at start-up. A job runs after the surrounding transaction commits:

- embedded mode (default): in a thread pool of this process, one pool per queue;
- distributed mode (COLORPROJ_JOBS=celery): as a Celery task sent to the queue, so any
  worker consuming "preview" or "batch" (another machine, a GPU box) picks it up.

Jobs themselves are thin: load rows by id, call an action or engine function. Every job is
idempotent, which is what makes the two kinds of retry safe: a job whose worker died is handed
out again (Celery: acks late), and a job that met a database it could not reach (a restart, a
failover, a network cut) raises `transient` errors and runs again a little later, from the start.
"""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Callable

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


def job(*, queue: str):
    """Register a function as a background job on `queue` (also a Celery task of the same name)."""
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}; use one of {QUEUES}")

    def register(func: Callable) -> Callable:
        name = f"{func.__module__}.{func.__name__}"
        _tasks[name] = shared_task(  # queue chosen per send
            name=name, ignore_result=True, autoretry_for=TRANSIENT_ERRORS, max_retries=RETRIES,
            retry_backoff=RETRY_FIRST, retry_backoff_max=RETRY_LONGEST, retry_jitter=False)(func)
        func.job_name, func.job_queue = name, queue
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
