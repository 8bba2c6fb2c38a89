"""Freeing disk space: a render's files removed by a producer or by `manage.py prune_renders`."""
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from tests.annotations.review_helpers import approve_all, run_inline

from annotations import storage
from annotations.render import actions as render_actions
from annotations.models import AuditEvent, Render

pytestmark = pytest.mark.django_db


@pytest.fixture
def rendered(shot, users):
    approve_all(shot, users, frames=(2,))
    return lambda: run_inline(render_actions.start_render(shot, users["producer"]))


def test_removing_files_frees_them_and_keeps_the_record(rendered, users, client_for,
                                                       django_capture_on_commit_callbacks):
    render = rendered()
    assert render.status == Render.Status.DONE, render.error
    files = storage.stored_files(render.storage_dir)
    assert len(files) > 10  # frames, keyframes, pictures, deliverables
    path = reverse("api:render-remove-files", args=[render.pk])
    for role in ("annotator", "reviewer"):
        assert client_for(users[role]).post(path).status_code == 403, role
    assert storage.stored_files(render.storage_dir) == files

    producer = client_for(users["producer"])
    with django_capture_on_commit_callbacks(execute=True):  # the files go once the change commits
        answer = producer.post(path)
    assert answer.status_code == 200 and answer.json()["files_removed"]
    assert storage.stored_files(render.storage_dir) == []
    event = AuditEvent.objects.get(verb="render.files_removed")
    assert event.actor == users["producer"]
    assert event.after == {"files": len(files), "bytes": sum(size for _, size in files)}

    download = producer.get(reverse("api:deliverable-download", args=[render.pk, "prores"]))
    assert download.status_code == 410 and "were removed" in download.json()["detail"]
    assert producer.get(reverse("api:render-contact-sheet", args=[render.pk])).status_code == 410
    manifest = producer.get(reverse("api:deliverable-manifest", args=[render.pk, "prores"]))
    assert manifest.status_code == 200  # what was delivered stays on record
    browser = Client()
    browser.force_login(users["producer"])
    page = browser.get(reverse("review-shot", args=[render.shot_id])).content.decode()
    assert "Files removed on" in page
    assert f'href="{reverse("api:deliverable-download", args=[render.pk, "prores"])}"' not in page

    assert producer.post(path).status_code == 200  # again: nothing left, no second audit record
    assert AuditEvent.objects.filter(verb="render.files_removed").count() == 1


def test_running_renders_keep_their_files_and_emptied_ones_are_not_retried(shot, users, client_for):
    approve_all(shot, users, frames=(2,))
    render = render_actions.start_render(shot, users["producer"])
    answer = client_for(users["producer"]).post(reverse("api:render-remove-files", args=[render.pk]))
    assert answer.status_code == 409 and "cancel it" in answer.json()["detail"]
    render_actions.cancel_render(render, users["producer"])
    render_actions.remove_files(render, users["producer"])
    answer = client_for(users["producer"]).post(reverse("api:render-retry", args=[render.pk]))
    assert answer.status_code == 409 and "start a new render" in answer.json()["detail"]


def test_prune_keeps_the_newest_finished_renders_of_each_shot(rendered, shot, users,
                                                              django_capture_on_commit_callbacks):
    renders = [rendered() for _ in range(3)]
    failed = render_actions.start_render(shot, users["producer"])
    render_actions.fail(failed, "test")
    Render.objects.filter(pk=failed.pk).update(finished=timezone.now() - timedelta(days=8))

    out = StringIO()
    call_command("prune_renders", "--keep", "2", "--dry-run", stdout=out)
    assert "2 render(s), would free" in out.getvalue()
    assert not Render.objects.filter(files_removed__isnull=False).exists()

    with django_capture_on_commit_callbacks(execute=True):
        call_command("prune_renders", "--keep", "2", stdout=out)
    removed = set(Render.objects.filter(files_removed__isnull=False).values_list("pk", flat=True))
    assert removed == {renders[0].pk, failed.pk}
    assert storage.stored_files(renders[0].storage_dir) == []
    assert storage.stored_files(renders[2].storage_dir)
    assert AuditEvent.objects.get(verb="render.files_removed", target_id=str(renders[0].pk)).actor is None

    with pytest.raises(CommandError, match="at least 1"):
        call_command("prune_renders", "--keep", "0")
