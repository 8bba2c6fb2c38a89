"""colorproj.jobs in the embedded mode: one pool per queue, after commit, failures contained."""
import threading

import pytest
from django.conf import settings
from django.db import transaction

from colorproj import jobs

embedded_only = pytest.mark.skipif(settings.JOBS_MODE != "embedded", reason="in-process pools are the embedded mode")
ran = []


@jobs.job(queue="preview")
def remember(value):
    ran.append((value, threading.current_thread().name))


@jobs.job(queue="batch")
def explode(value):
    raise RuntimeError("boom")


@embedded_only
@pytest.mark.django_db(transaction=True)
def test_jobs_run_after_commit_on_their_queue():
    ran.clear()
    with transaction.atomic():
        jobs.enqueue(remember, 1)
        jobs.drain(5)
        assert ran == []  # not before the transaction commits
    jobs.enqueue(explode, 2)  # a failing job is logged, the pool lives on
    jobs.enqueue(remember, 3)
    assert jobs.drain(60)
    assert [value for value, _ in ran] == [1, 3]
    assert all(name.startswith("job-preview") for _, name in ran)


@embedded_only
@pytest.mark.django_db(transaction=True)
def test_rolled_back_work_enqueues_nothing():
    ran.clear()
    with pytest.raises(ValueError):
        with transaction.atomic():
            jobs.enqueue(remember, 4)
            raise ValueError
    jobs.drain(5)
    assert ran == []


def test_unknown_queue_is_refused():
    with pytest.raises(ValueError, match="unknown queue"):
        jobs.job(queue="gpu")
