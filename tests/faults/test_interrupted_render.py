"""Embedded mode: a render that the server was running when it stopped resumes by itself when the
server starts again (the jobs lived in the stopped server's threads; nobody would redo them)."""
import pytest
from tests.annotations.review_helpers import approve_all, wait_render
from tests.conftest import DISTRIBUTED
from tests.processes import start_server, stop, wait_until

from annotations.models import Render, RenderStretch
from annotations.render.actions import start_render

pytestmark = [pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(DISTRIBUTED, reason="embedded mode: Celery hands unfinished jobs out again itself")]


def test_an_interrupted_render_resumes_when_the_server_starts(shot, users, background_jobs, tmp_path):
    approve_all(shot, users)
    render = wait_render(start_render(shot, users["producer"]))
    assert render.status == Render.Status.DONE
    # As a server stopped in the middle of the second stretch leaves it (every step is idempotent).
    Render.objects.filter(pk=render.pk).update(status=Render.Status.RUNNING, progress=0.5, finished=None)
    render.stretches.filter(index=1).update(status=RenderStretch.Status.RUNNING, frames_done=1)
    attempts = render.stretches.get(index=1).attempts

    server = start_server(None, tmp_path / "server.log")
    try:
        wait_until(lambda: Render.objects.get(pk=render.pk).status != Render.Status.RUNNING, 120,
                   "the render to resume")
    finally:
        stop(server)
    render.refresh_from_db()
    assert render.status == Render.Status.DONE, render.error
    assert render.stretches.get(index=1).attempts == attempts + 1  # redone by the restarted server
    assert render.stretches.get(index=0).attempts == 1  # done before: kept
