"""A native crash in a job (a decoder or an engine) fails that job, never the web server.

Embedded mode runs each batch job in a child process (colorproj.jobs); the setting
COLORPROJ_CRASH_JOBS makes a job's child kill itself with SIGSEGV, as a crash in native code would.
Were the job run in the server's own thread, this test process would die with it.
"""
import pytest
from django.urls import reverse
from tests.annotations.review_helpers import approve_all, wait_render
from tests.conftest import DISTRIBUTED

from annotations.models import Render

pytestmark = [pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(DISTRIBUTED, reason="the embedded mode's child processes")]


def test_a_crashing_render_job_fails_the_render_and_a_retry_completes(shot, users, client_for, background_jobs,
                                                                      settings):
    approve_all(shot, users, frames=(2,))
    producer = client_for(users["producer"])
    settings.COLORPROJ_JOB_PROCESSES = True
    settings.COLORPROJ_CRASH_JOBS = ("annotations.render.tasks.finalize_render",)
    answer = producer.post(reverse("api:shot-renders", args=[shot.pk]), {}, format="json")
    assert answer.status_code == 202, answer.json()
    render = wait_render(Render.objects.get(pk=answer.json()["id"]))
    assert render.status == "failed"
    assert "its process crashed (SIGSEGV); retry the render" in render.error
    # The server answers, and says why.
    detail = producer.get(reverse("api:render-detail", args=[render.pk]))
    assert detail.status_code == 200 and "SIGSEGV" in detail.json()["error"]
    assert producer.get(reverse("api:shot-renders", args=[shot.pk])).status_code == 200

    settings.COLORPROJ_CRASH_JOBS = ()
    retried = producer.post(reverse("api:render-retry", args=[render.pk]), {}, format="json")
    assert retried.status_code == 202, retried.json()
    render = wait_render(render)
    assert render.status == "done", render.error
    assert {d.kind for d in render.deliverables.all()} >= {"mp4", "prores", "png"}
