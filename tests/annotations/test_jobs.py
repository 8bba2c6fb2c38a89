"""colorproj.jobs in the embedded mode: one pool per queue, after commit, failures contained."""
import os
import threading

import pytest
from django.conf import settings
from django.db import transaction

from annotations import events
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


@jobs.job(queue="batch")
def hand_on(group):
    jobs.enqueue(announce, group)


@jobs.job(queue="batch")
def announce(group):
    events.send_now([group], "announced", {"pid": os.getpid()})


@embedded_only
@pytest.mark.django_db(transaction=True)
def test_a_job_enqueued_by_a_job_in_a_child_process_reaches_the_server(settings, monkeypatch):
    """A job's child ends with its job: what it enqueues is run by the server, whose sockets hear it.

    It used to run in the child's own pool, in a grandchild whose live events the finished child
    could no longer relay ("cannot schedule new futures after interpreter shutdown"): a render
    started from the page never showed Done."""
    settings.COLORPROJ_JOB_PROCESSES = True
    relayed = []
    monkeypatch.setattr(jobs, "_send_event", lambda group, message: relayed.append((group, message)))
    jobs.enqueue(hand_on, "project.7")
    assert jobs.drain(120)
    assert [(group, message["event"]) for group, message in relayed] == [("project.7", "announced")]
    assert relayed[0][1]["data"]["pid"] != os.getpid()  # run in a child process, not here
