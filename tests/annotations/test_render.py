"""Approval-gated renders: stretches, frozen revisions, failure and retry, determinism."""
import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from tests.annotations.review_helpers import annotate, approve_all, hints, run_inline

from annotations import frames
from annotations.render import actions as render_actions
from annotations.review import actions as review
from annotations.keyframes.actions import save_hints
from annotations.errors import Conflict
from annotations.models import AuditEvent, Notification, Render
from annotations.render import pipeline

pytestmark = pytest.mark.django_db


def test_render_needs_every_keyframe_approved(shot, users, client_for):
    producer = client_for(users["producer"])
    answer = producer.post(reverse("api:shot-renders", args=[shot.pk]), {}, format="json")
    assert answer.status_code == 409 and "no keyframes" in answer.json()["detail"]
    approve_all(shot, users, frames=(2,))
    waiting = annotate(shot, users["annotator"], 7)
    review.submit(waiting, users["annotator"])
    answer = producer.post(reverse("api:shot-renders", args=[shot.pk]), {}, format="json")
    assert answer.status_code == 409
    assert "not approved: frame 7 (submitted)" in answer.json()["detail"]
    assert not Render.objects.exists()


def test_only_producers_and_managers_render(shot, users, outsider, client_for):
    approve_all(shot, users, frames=(2,))
    path = reverse("api:shot-renders", args=[shot.pk])
    for role in ("annotator", "reviewer"):
        assert client_for(users[role]).post(path, {}, format="json").status_code == 403, role
    assert client_for(outsider).post(path, {}, format="json").status_code == 404
    assert client_for(outsider).get(path).status_code == 404
    assert client_for(users["producer"]).post(path, {"sequence_start": -5}, format="json").status_code == 400
    answer = client_for(users["producer"]).post(path, {"sequence_start": 86400}, format="json")
    assert answer.status_code == 202
    data = answer.json()
    assert data["status"] == "queued" and data["sequence_start"] == 86400
    assert [(s["start"], s["end"]) for s in data["stretches"]] == [(0, 2), (2, 10)]
    assert data["keyframes"][0]["approvals"][0]["by"] == "reviewer"
    # One render at a time per shot.
    assert client_for(users["manager"]).post(path, {}, format="json").status_code == 409
    assert client_for(users["reviewer"]).get(reverse("api:render-detail", args=[data["id"]])).status_code == 200


def test_render_splits_at_keyframes_and_is_deterministic(shot, users, client_for):
    approve_all(shot, users)
    first = render_actions.start_render(shot, users["producer"])
    assert [(s.start, s.end) for s in first.stretches.all()] == [(0, 2), (2, 7), (7, 10)]
    first = run_inline(first)
    assert first.status == Render.Status.DONE, first.error
    assert all(s.status == "done" and s.attempts == 1 for s in first.stretches.all())
    second = run_inline(render_actions.start_render(shot, users["producer"]))
    assert second.status == Render.Status.DONE, second.error
    # Same approved revisions, same engines: the same frames, bit for bit.
    assert second.inputs_hash == first.inputs_hash
    assert second.output_hash == first.output_hash and len(first.output_hash) == 64
    assert [s.sha256 for s in second.stretches.all()] == [s.sha256 for s in first.stretches.all()]
    assert second.deliverables.get(kind="png").sha256 == first.deliverables.get(kind="png").sha256
    # The quality checks ran and were stored.
    qc = first.qc
    assert len(qc["luma"]["max_diff_per_frame"]) == shot.frame_count
    assert qc["luma"]["max_diff"] < 0.5 and qc["luma"]["pass"]
    assert len(qc["flicker"]["per_frame"]) == shot.frame_count - 1 and qc["flicker"]["mean"] >= 0
    assert qc["legal_range"]["prores"]["bits"] == 10 and qc["legal_range"]["mp4"]["bits"] == 8
    assert qc["legal_range"]["prores"]["samples_outside"] == 0
    shot.refresh_from_db()
    assert shot.status == "rendered"
    # The propagation's confidence, kept per frame: sure on the keyframes, less so between them.
    confidence = qc["confidence"]
    assert confidence["frames"] == list(range(shot.frame_count))
    assert [confidence["mean_per_frame"][k] for k in (2, 7)] == [1.0, 1.0]
    assert all(0 <= value <= 1 for value in confidence["mean_per_frame"])
    assert min(confidence["mean_per_frame"]) < 1 and confidence["least_sure"][0] not in (2, 7)
    stored = frames.read_png(pipeline.confidence_name(first, 4))
    assert stored.dtype == np.uint8 and stored.ndim == 2 and max(stored.shape) <= 80  # a small map
    for name, magic in (("render-contact-sheet", b"\xff\xd8\xff"), ("render-qc-chart", b"\x89PNG"),
                        ("render-confidence-sheet", b"\x89PNG")):
        picture = client_for(users["reviewer"]).get(reverse(f"api:{name}", args=[first.pk]))
        assert picture.status_code == 200 and b"".join(picture.streaming_content).startswith(magic)
    assert AuditEvent.objects.filter(verb="render.finished", target_id=str(first.pk)).exists()
    assert Notification.objects.filter(recipient=users["producer"], verb="render.finished").count() == 2


def test_output_luma_is_the_source_luma(shot, users):
    from inference.color import to_luma

    approve_all(shot, users)
    render = run_inline(render_actions.start_render(shot, users["producer"]))
    for index, source in enumerate(frames.iter_shot_luma(shot)):
        master = frames.read_png(pipeline.frame_name(render, index))
        assert master.dtype == np.uint16 and master.shape == (48, 64, 3)
        assert np.abs(to_luma(master) - source).max() * 255 < 0.5, index
    # Colour is there: the hinted point carries the approved red.
    red = frames.read_png(pipeline.frame_name(render, 2))[15, 20].astype(int)
    assert red[0] > red[2] + 5000


def test_render_uses_the_approved_revisions_not_later_drafts(shot, users):
    keyframes = approve_all(shot, users)
    render = render_actions.start_render(shot, users["producer"])
    # An edit after the render started: a new draft, blue where the approved hint is red.
    save_hints(keyframes[0], users["annotator"], hints(color="#2040d0"))
    render = run_inline(render)
    assert render.status == Render.Status.DONE, render.error
    assert render.keyframes[0]["content_hash"] == keyframes[0].head.content_hash
    pixel = frames.read_png(pipeline.frame_name(render, 2))[15, 20].astype(int)
    assert pixel[0] > pixel[2], "the render used the draft instead of the approved revision"
    # And a new render is refused until the draft is approved again.
    with pytest.raises(Conflict, match="frame 2 \\(draft\\)"):
        render_actions.start_render(shot, users["producer"])


def test_a_failed_render_says_why_and_a_retry_keeps_finished_stretches(shot, users, client_for):
    approve_all(shot, users)
    reference = run_inline(render_actions.start_render(shot, users["producer"]))
    render = render_actions.start_render(shot, users["producer"])
    from annotations.render import tasks

    tasks.prepare_render(render.pk)
    tasks.render_stretch(render.pk, 0)
    default_storage.delete(pipeline.keyframe_name(render, 7))  # storage lost a file the next stretch needs
    tasks.render_stretch(render.pk, 1)
    render.refresh_from_db()
    assert render.status == Render.Status.FAILED
    assert render.error.startswith("frames 2-6 failed") and "FileNotFoundError" in render.error
    detail = client_for(users["producer"]).get(reverse("api:render-detail", args=[render.pk])).json()
    assert detail["status"] == "failed" and detail["error"] == render.error
    assert Notification.objects.filter(recipient=users["producer"], verb="render.failed").exists()
    assert "Failed: frames 2-6" in _page(client_for, users["producer"], shot)
    tasks.render_stretch(render.pk, 2)  # a late job of a failed render does nothing
    assert render.stretches.get(index=2).attempts == 0

    assert client_for(users["annotator"]).post(reverse("api:render-retry", args=[render.pk])).status_code == 403
    answer = client_for(users["producer"]).post(reverse("api:render-retry", args=[render.pk]))
    assert answer.status_code == 202 and answer.json()["status"] == "queued"
    render = run_inline(render)
    assert render.status == Render.Status.DONE, render.error
    attempts = {s.index: s.attempts for s in render.stretches.all()}
    assert attempts == {0: 1, 1: 2, 2: 1}  # stretch 0 was not computed again
    assert render.output_hash == reference.output_hash
    assert client_for(users["producer"]).post(reverse("api:render-retry", args=[render.pk])).status_code == 409


def _page(client_for, user, shot):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client.get(reverse("review-shot", args=[shot.pk])).content.decode()


def test_retry_refused_when_an_approval_no_longer_counts(shot, users):
    keyframes = approve_all(shot, users)
    render = render_actions.start_render(shot, users["producer"])
    render_actions.fail(render, "machine lost")
    save_hints(keyframes[1], users["annotator"], hints(color="#101010"))
    with pytest.raises(Conflict, match="frame 7 changed since this render started"):
        render_actions.retry_render(render, users["producer"])


def test_a_worker_with_other_weights_refuses_to_render(shot, users, settings):
    settings.COLORPROJ_RENDER_KEYFRAME_METHOD = "cnn"
    approve_all(shot, users)
    render = render_actions.start_render(shot, users["producer"])
    assert len(render.engines["keyframe"]["weights_sha256"]) == 64
    render.engines["keyframe"]["weights_sha256"] = "0" * 64  # as if it had started elsewhere with other weights
    render.save(update_fields=["engines"])
    render = run_inline(render)
    assert render.status == Render.Status.FAILED
    assert "weights" in render.error and "000000000000" in render.error


def test_a_stuck_render_can_be_cancelled_and_retried(shot, users, client_for):
    approve_all(shot, users)
    render = render_actions.start_render(shot, users["producer"])
    path = reverse("api:render-cancel", args=[render.pk])
    assert client_for(users["reviewer"]).post(path).status_code == 403
    answer = client_for(users["producer"]).post(path)
    assert answer.status_code == 200
    assert answer.json()["status"] == "failed" and answer.json()["error"] == "cancelled by producer"
    assert client_for(users["producer"]).post(path).status_code == 409
    render = run_inline(render)  # its queued jobs find it failed and do nothing
    assert render.status == Render.Status.FAILED and render.stretches.filter(attempts=0).count() == 3
    render_actions.retry_render(render, users["manager"])
    assert run_inline(render).status == Render.Status.DONE
