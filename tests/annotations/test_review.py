"""The historical-accuracy review: workflow, roles, references, comments, notifications, pages."""
import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.urls import reverse
from tests.annotations.review_helpers import GREEN, RED, annotate, approve_all, hints

from annotations import events
from annotations.projects import actions as projects
from annotations.projects import actions as references
from annotations.review import actions as review
from annotations.keyframes.actions import apply_hint_ops, save_hints
from annotations.errors import Conflict, NotAllowed
from annotations.models import AuditEvent, Membership, Notification, Review

pytestmark = pytest.mark.django_db


def url(name, *args):
    return reverse(f"api:{name}", args=args)


def test_submit_and_approve_through_the_api(shot, users, client_for):
    annotator, reviewer = client_for(users["annotator"]), client_for(users["reviewer"])
    created = annotator.post(url("shot-keyframes", shot.pk), {"frame": 3}, format="json")
    assert created.status_code == 201
    pk = created.json()["id"]
    saved = annotator.put(url("keyframe-hints", pk), {"hints": hints()}, format="json")
    assert saved.status_code == 200
    content_hash = saved.json()["content_hash"]

    answer = annotator.post(url("keyframe-submit", pk), {"message": "tunic per 1914 order"}, format="json")
    assert answer.status_code == 200 and answer.json()["review_status"] == "submitted"
    answer = reviewer.post(url("keyframe-approve", pk), {"content_hash": content_hash, "comment": "ok"}, format="json")
    assert answer.status_code == 200, answer.json()
    assert answer.json()["review_status"] == "approved"
    assert answer.json()["review"]["content_hash"] == content_hash

    state = reviewer.get(url("keyframe-reviews", pk)).json()
    assert [h["kind"] for h in state["history"]] == ["submitted", "approved"]
    assert state["approval"]["actor"] == "reviewer" and state["approval"]["revision"] == 2
    verbs = set(AuditEvent.objects.filter(target_type="keyframe", target_id=str(pk)).values_list("verb", flat=True))
    assert {"keyframe.submitted", "keyframe.approved"} <= verbs
    # The reviewer heard of the submission, the annotator of the approval.
    assert Notification.objects.filter(recipient=users["reviewer"], verb="keyframe.submitted").count() == 1
    assert Notification.objects.filter(recipient=users["annotator"], verb="keyframe.approved").count() == 1
    assert not Notification.objects.filter(recipient=users["producer"]).exists()
    assert reviewer.get(url("shot-review", shot.pk)).json()["renderable"] is True


def test_roles_are_enforced(shot, users, outsider, client_for):
    keyframe = annotate(shot, users["annotator"], 4)
    for role in ("reviewer", "producer"):
        answer = client_for(users[role]).post(url("keyframe-submit", keyframe.pk), {}, format="json")
        assert answer.status_code == 403, role
    assert client_for(outsider).post(url("keyframe-submit", keyframe.pk), {}, format="json").status_code == 404
    answer = client_for(users["annotator"]).post(url("keyframe-submit", keyframe.pk), {}, format="json")
    assert answer.status_code == 200
    for role in ("annotator", "producer", "manager"):
        client = client_for(users[role])
        assert client.post(url("keyframe-approve", keyframe.pk), {}, format="json").status_code == 403, role
        assert client.post(url("keyframe-request-changes", keyframe.pk), {"comment": "no"},
                           format="json").status_code == 403, role
    assert client_for(outsider).post(url("keyframe-approve", keyframe.pk), {}, format="json").status_code == 404
    assert client_for(outsider).get(url("keyframe-reviews", keyframe.pk)).status_code == 404
    # Actions check too, whatever calls them.
    with pytest.raises(Exception):
        review.approve(keyframe, users["producer"])
    keyframe.refresh_from_db()
    assert keyframe.review_status == "submitted"


def test_nobody_approves_their_own_work(shot, users, django_user_model):
    keyframe = annotate(shot, users["annotator"], 4)
    review.submit(keyframe, users["annotator"])
    # The author is made a reviewer later: still not allowed to approve the revision they wrote.
    membership = Membership.objects.get(project=shot.project, user=users["annotator"])
    projects.change_role(membership, users["manager"], "reviewer")
    with pytest.raises(NotAllowed, match="your own work"):
        review.approve(keyframe, users["annotator"])
    # Nor one they only submitted.
    other = django_user_model.objects.create_user("annotator2")
    projects.add_member(shot.project, users["manager"], other, "annotator")
    second = annotate(shot, other, 6)
    projects.change_role(membership, users["manager"], "annotator")
    review.submit(second, users["annotator"])
    projects.change_role(membership, users["manager"], "reviewer")
    with pytest.raises(NotAllowed):
        review.approve(second, users["annotator"])
    assert review.approve(keyframe, users["reviewer"]).kind == Review.Kind.APPROVED


def test_self_approval_refused_through_the_api(shot, users, client_for):
    keyframe = annotate(shot, users["annotator"], 4)
    review.submit(keyframe, users["annotator"])
    projects.change_role(Membership.objects.get(project=shot.project, user=users["annotator"]), users["manager"],
                         "reviewer")
    answer = client_for(users["annotator"]).post(url("keyframe-approve", keyframe.pk), {}, format="json")
    assert answer.status_code == 403 and "own work" in answer.json()["detail"]


def test_a_later_edit_invalidates_the_approval(shot, users):
    keyframe, = approve_all(shot, users, frames=(5,))
    approved_hash = keyframe.head.content_hash
    assert review.current_approval(keyframe).content_hash == approved_hash
    review.approved_keyframes(shot)  # renderable

    apply_hint_ops(keyframe, users["annotator"], [{"op": "update_point", "id": keyframe.head.content["points"][0]["id"],
                                                   "changes": {"color": "#123456"}}])
    keyframe.refresh_from_db()
    assert keyframe.review_status == "draft"
    assert keyframe.head.content_hash != approved_hash
    assert review.current_approval(keyframe) is None
    with pytest.raises(Conflict, match="frame 5 \\(draft\\)"):
        review.approved_keyframes(shot)
    # The approval stays in the history, bound to the revision it was about.
    approval = keyframe.reviews.get(kind="approved")
    assert approval.content_hash == approved_hash and approval.revision.number == 2


def test_an_edit_that_withdraws_a_review_tells_the_reviewers(shot, users):
    keyframe, = approve_all(shot, users, frames=(5,))
    point = keyframe.head.content["points"][0]["id"]
    apply_hint_ops(keyframe, users["annotator"], [{"op": "update_point", "id": point, "changes": {"color": "#123456"}}])
    notice = Notification.objects.get(verb="keyframe.withdrawn")
    assert notice.recipient == users["reviewer"] and notice.keyframe_id == keyframe.pk
    assert "annotator edited" in notice.message and "approval is withdrawn" in notice.message

    # A submission withdrawn: the project's reviewers are told; a draft edited again: nobody.
    review.submit(keyframe, users["annotator"])
    apply_hint_ops(keyframe, users["annotator"], [{"op": "update_point", "id": point, "changes": {"color": "#654321"}}])
    apply_hint_ops(keyframe, users["annotator"], [{"op": "update_point", "id": point, "changes": {"color": "#abcdef"}}])
    withdrawn = Notification.objects.filter(verb="keyframe.withdrawn").order_by("pk")
    assert [n.message.split(": ")[-1] for n in withdrawn] == ["its approval is withdrawn, it is a draft again",
                                                            "its submission is withdrawn, it is a draft again"]


def test_approval_is_refused_if_the_hints_changed_since_opened(shot, users, client_for):
    keyframe = annotate(shot, users["annotator"], 4)
    review.submit(keyframe, users["annotator"])
    answer = client_for(users["reviewer"]).post(url("keyframe-approve", keyframe.pk), {"content_hash": "0" * 64},
                                                format="json")
    assert answer.status_code == 409 and "changed" in answer.json()["detail"]


def test_request_changes_needs_a_comment_and_goes_back_to_draft_on_edit(shot, users, client_for):
    keyframe = annotate(shot, users["annotator"], 4)
    review.submit(keyframe, users["annotator"])
    reviewer = client_for(users["reviewer"])
    empty = reviewer.post(url("keyframe-request-changes", keyframe.pk), {"comment": ""}, format="json")
    assert empty.status_code == 400
    answer = reviewer.post(url("keyframe-request-changes", keyframe.pk), {"comment": "tunic was khaki by 1915"},
                           format="json")
    assert answer.status_code == 200 and answer.json()["review_status"] == "changes_requested"
    assert Notification.objects.filter(recipient=users["annotator"], verb="keyframe.changes_requested",
                                       message__contains="khaki").exists()
    with pytest.raises(Conflict, match="edit its hints"):
        review.submit(keyframe, users["annotator"])
    save_hints(keyframe, users["annotator"], hints(color="#7a7040"))
    keyframe.refresh_from_db()
    assert keyframe.review_status == "draft"
    review.submit(keyframe, users["annotator"])
    assert review.approve(keyframe, users["reviewer"]).revision.number == 3


def test_reference_requirement_blocks_approval_until_every_color_is_linked(shot, users, client_for):
    project = shot.project
    projects.update_project(project, users["manager"], require_references=True)
    tunic = references.create_reference(project, users["annotator"], name="Tunic, 1914", color=RED,
                                        source_kind="archive", citation="Regimental archive, box 12, order 1914/7")
    grass = references.create_reference(project, users["annotator"], name="Meadow", color=GREEN,
                                        source_kind="photograph", citation="Autochrome, 1913",
                                        url="https://example.org/a")
    keyframe = annotate(shot, users["annotator"], 4, hints(reference=tunic.pk))  # the green point is unlinked
    review.submit(keyframe, users["annotator"])
    answer = client_for(users["reviewer"]).post(url("keyframe-approve", keyframe.pk), {}, format="json")
    assert answer.status_code == 409
    assert "requires every hint color to be linked" in answer.json()["detail"] and "1 point" in answer.json()["detail"]

    content = hints(reference=tunic.pk)
    content["points"][1]["reference"] = grass.pk
    save_hints(keyframe, users["annotator"], content)
    keyframe.refresh_from_db()
    review.submit(keyframe, users["annotator"])
    answer = client_for(users["reviewer"]).post(url("keyframe-approve", keyframe.pk), {"comment": "sources check out"},
                                                format="json")
    assert answer.status_code == 200, answer.json()
    sources = answer.json()["review"]["sources"]
    assert {s["name"] for s in sources} == {"Tunic, 1914", "Meadow"}
    assert any(s["citation"].startswith("Regimental archive") for s in sources)
    assert set(Review.objects.get(kind="approved").references.values_list("pk", flat=True)) == {tunic.pk, grass.pk}


def test_reviewers_can_cite_further_references(shot, users, client):
    extra = references.create_reference(shot.project, users["reviewer"], name="Uniform plate", color="#884422",
                                         citation="Plate 12, Army dress regulations 1911")
    keyframe = annotate(shot, users["annotator"], 4)
    review.submit(keyframe, users["annotator"])
    approval = review.approve(keyframe, users["reviewer"], references=[extra.pk])
    assert [s["name"] for s in approval.sources] == ["Uniform plate"]
    client.force_login(users["annotator"])
    sources = client.get(reverse("review-keyframe", args=[keyframe.pk])).content.decode().split("<h2>Sources</h2>")[1]
    assert "Uniform plate" in sources.split("</section>")[0] and "checked by the reviewer" in sources
    with pytest.raises(Exception, match="no color reference"):
        other = annotate(shot, users["annotator"], 6)
        review.submit(other, users["annotator"])
        review.approve(other, users["reviewer"], references=[999999])


def test_comments_pinned_to_a_point(shot, users, client_for):
    keyframe = annotate(shot, users["annotator"], 4)
    reviewer = client_for(users["reviewer"])
    answer = reviewer.post(url("keyframe-comments", keyframe.pk), {"text": "collar looks too bright", "x": 30, "y": 12},
                           format="json")
    assert answer.status_code == 201 and (answer.json()["x"], answer.json()["y"]) == (30, 12)
    for bad in ({"text": "off", "x": 64, "y": 1}, {"text": "half", "x": 3}, {"text": "", "x": 1, "y": 1},
                {"text": "neg", "x": -1, "y": 2}):
        assert reviewer.post(url("keyframe-comments", keyframe.pk), bad, format="json").status_code == 400, bad
    assert client_for(users["producer"]).post(url("keyframe-comments", keyframe.pk), {"text": "hi"},
                                              format="json").status_code == 403
    listed = client_for(users["annotator"]).get(url("keyframe-comments", keyframe.pk)).json()
    assert [c["text"] for c in listed] == ["collar looks too bright"]
    assert Notification.objects.filter(recipient=users["annotator"], verb="keyframe.commented").exists()


def test_notifications_list_and_mark_read(shot, users, client_for, django_capture_on_commit_callbacks):
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(events.project_group(shot.project_id), channel)
    keyframe = annotate(shot, users["annotator"], 4)
    with django_capture_on_commit_callbacks(execute=True):
        review.submit(keyframe, users["annotator"])

    async def drain():
        got = []
        while True:
            try:
                got.append(await asyncio.wait_for(layer.receive(channel), 0.5))
            except asyncio.TimeoutError:
                return got

    received = async_to_sync(drain)()
    note = next(m for m in received if m["event"] == "notification")
    assert any(m["event"] == "keyframe.submitted" for m in received)
    assert note["data"]["recipients"] == ["reviewer"] and note["data"]["keyframe"] == keyframe.pk

    client = client_for(users["reviewer"])
    items = client.get(url("notification-list") + "?unread=1").json()
    assert len(items) == 1 and "submitted" in items[0]["message"]
    assert client_for(users["annotator"]).get(url("notification-list")).json() == []
    # Nobody marks someone else's notifications.
    assert client_for(users["annotator"]).post(url("notification-read"), {"ids": [items[0]["id"]]},
                                               format="json").json()["marked"] == 0
    answer = client.post(url("notification-read"), {"ids": [items[0]["id"]]}, format="json").json()
    assert answer == {"marked": 1, "unread": 0}
    assert client.get(url("notification-list") + "?unread=1").json() == []


def test_review_pages_and_report(shot, users, outsider, client):
    tunic = references.create_reference(shot.project, users["annotator"], name="Tunic, 1914", color=RED,
                                        source_kind="archive", citation="Regimental archive, box 12")
    keyframes = []
    for frame in (2, 7):
        keyframe = annotate(shot, users["annotator"], frame, hints(reference=tunic.pk))
        review.submit(keyframe, users["annotator"])
        keyframes.append(keyframe)
    review.approve(keyframes[0], users["reviewer"], comment="per the archive")

    client.force_login(users["reviewer"])
    page = client.get(reverse("review-keyframe", args=[keyframes[1].pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="notifications-link"' in html and '<span class="badge submitted">2</span>' in html  # 2 submitted
    assert 'id="approve-form"' in html and "Regimental archive, box 12" in html
    assert reverse("review-keyframe-preview", args=[keyframes[1].pk]) in html
    preview = client.get(reverse("review-keyframe-preview", args=[keyframes[1].pk]))
    assert preview.status_code == 200 and preview.content.startswith(b"\x89PNG")

    report = client.get(reverse("review-report", args=[shot.pk]) + "?download=1")
    assert report.status_code == 200 and "attachment" in report["Content-Disposition"]
    html = report.content.decode()
    assert html.count("data:image/png;base64,") == 1  # only the approved keyframe has a thumbnail
    assert keyframes[0].head.content_hash in html and "reviewer" in html and "Regimental archive, box 12" in html
    assert "not every keyframe is approved" in html

    shot_page = client.get(reverse("review-shot", args=[shot.pk])).content.decode()
    assert "every keyframe must be approved" in shot_page and 'id="render-form"' not in shot_page

    client.force_login(users["annotator"])
    html = client.get(reverse("review-keyframe", args=[keyframes[1].pk])).content.decode()
    assert 'id="approve-form"' not in html and "another reviewer must approve" in html
    client.force_login(outsider)
    for name, pk in (("review-keyframe", keyframes[0].pk), ("review-shot", shot.pk), ("review-report", shot.pk),
                     ("review-keyframe-preview", keyframes[0].pk)):
        assert client.get(reverse(name, args=[pk])).status_code == 404, name
    assert client.get(reverse("notifications")).status_code == 200


def test_a_reviewed_keyframe_can_still_be_deleted(shot, users):
    from annotations.keyframes.actions import delete_keyframe

    keyframe, = approve_all(shot, users, frames=(5,))
    review.add_comment(keyframe, users["reviewer"], "fine", 3, 4)
    delete_keyframe(keyframe, users["annotator"])
    assert not Review.objects.exists()
    assert AuditEvent.objects.filter(verb="keyframe.deleted", before__review_status="approved").exists()
