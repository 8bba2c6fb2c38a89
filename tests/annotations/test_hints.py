"""Hint revisions: append-only history, small ops under a row lock, validation, conflicts."""
import threading

import pytest

from annotations.keyframes.actions import add_keyframe, apply_hint_ops, delete_keyframe, save_hints
from annotations.errors import Conflict, Invalid
from annotations.models import AuditEvent, HintRevision, Keyframe
from annotations.models.keyframes import content_hash

pytestmark = pytest.mark.django_db

RED = {"x": 10, "y": 12, "color": "#a03020", "radius": 3}
STROKE = {"points": [[0, 0], [63, 47]], "width": 2}


def _point(keyframe):
    keyframe.refresh_from_db()
    return keyframe.hints["points"]


def test_keyframe_starts_with_empty_revision(keyframe, users):
    assert keyframe.head.number == 1
    assert keyframe.hints == {"points": [], "strokes": []}
    assert keyframe.review_status == Keyframe.ReviewStatus.DRAFT
    assert keyframe.shot.status == "annotating"
    assert AuditEvent.objects.filter(verb="keyframe.added", target_id=str(keyframe.pk)).exists()


def test_keyframe_frame_validated(shot, users):
    with pytest.raises(Invalid, match="0 to 9"):
        add_keyframe(shot, users["annotator"], 10)
    add_keyframe(shot, users["annotator"], 9)
    with pytest.raises(Conflict, match="already a keyframe"):
        add_keyframe(shot, users["annotator"], 9)


def test_every_revision_can_be_reconstructed(keyframe, users):
    author = users["annotator"]
    r2 = apply_hint_ops(keyframe, author, [{"op": "add_point", "point": {**RED, "id": "p1"}}], message="first")
    r3 = apply_hint_ops(keyframe, author, [{"op": "add_stroke", "stroke": {**STROKE, "id": "s1"}}])
    r4 = apply_hint_ops(keyframe, author, [{"op": "update_point", "id": "p1", "changes": {"color": "#00ff00"}}])
    r5 = apply_hint_ops(keyframe, author, [{"op": "delete_point", "id": "p1"}])
    assert [r.number for r in (r2, r3, r4, r5)] == [2, 3, 4, 5]
    history = list(keyframe.revisions.order_by("number"))
    assert [len(r.content["points"]) for r in history] == [0, 1, 1, 1, 0]
    assert keyframe.revision(2).content["points"][0]["color"] == "#a03020"
    assert keyframe.revision(4).content["points"][0]["color"] == "#00ff00"
    assert keyframe.revision(3).content["strokes"][0]["points"] == [[0.0, 0.0], [63.0, 47.0]]
    assert keyframe.revision(2).message == "first"
    # Each revision carries the hash of its canonical content; distinct states, distinct hashes.
    for revision in history:
        assert revision.content_hash == content_hash(revision.content)
    assert len({r.content_hash for r in history}) == 5
    assert history[0].content_hash == history[-1].content_hash or history[-1].content["strokes"]
    keyframe.refresh_from_db()
    assert keyframe.head == r5
    assert AuditEvent.objects.filter(verb="hints.edited", target_id=str(keyframe.pk)).count() == 4


def test_new_hints_get_stable_ids(keyframe, users):
    revision = apply_hint_ops(keyframe, users["annotator"], [{"op": "add_point", "point": RED}])
    point_id = revision.content["points"][0]["id"]
    assert point_id and revision.ops[0]["point"]["id"] == point_id
    apply_hint_ops(keyframe, users["annotator"], [{"op": "update_point", "id": point_id, "changes": {"x": 20}}])
    assert _point(keyframe)[0]["x"] == 20


def test_no_op_edit_writes_no_revision(keyframe, users):
    apply_hint_ops(keyframe, users["annotator"], [{"op": "add_point", "point": {**RED, "id": "p1"}}])
    head = apply_hint_ops(keyframe, users["annotator"], [{"op": "update_point", "id": "p1", "changes": {"x": 10}}])
    assert head.number == 2 and HintRevision.objects.filter(keyframe=keyframe).count() == 2


@pytest.mark.parametrize("ops, message", [
    ([{"op": "add_point", "point": {**RED, "x": 64}}], "outside the 64x48 image"),
    ([{"op": "add_point", "point": {**RED, "y": -1}}], "outside"),
    ([{"op": "add_point", "point": {**RED, "color": "red"}}], "bad color"),
    ([{"op": "add_point", "point": {**RED, "radius": 99}}], "radius"),
    ([{"op": "add_stroke", "stroke": {"points": [[1, 1]]}}], "vertices"),
    ([{"op": "add_stroke", "stroke": {"points": [[1, 1], [2, 2]], "width": 0}}], "width"),
    ([{"op": "explode"}], "unknown op"),
    ([{"op": "update_point", "id": "p1", "changes": {"owner": 1}}], "cannot change owner"),
    ([{"op": "add_point", "point": {**RED, "id": "p1"}}], "already exists"),
    ([{"op": "add_point", "point": {**RED, "id": "../x"}}], "bad hint id"),
    ([], "non-empty list"),
    ("add", "non-empty list"),
])
def test_invalid_ops_rejected_and_nothing_lost(keyframe, users, ops, message):
    apply_hint_ops(keyframe, users["annotator"], [{"op": "add_point", "point": {**RED, "id": "p1"}}])
    with pytest.raises(Invalid, match=message):
        apply_hint_ops(keyframe, users["annotator"], ops)
    keyframe.refresh_from_db()
    assert keyframe.head.number == 2 and [p["id"] for p in keyframe.hints["points"]] == ["p1"]


def test_ops_apply_atomically(keyframe, users):
    with pytest.raises(Invalid):
        apply_hint_ops(keyframe, users["annotator"], [
            {"op": "add_point", "point": {**RED, "id": "ok"}},
            {"op": "add_point", "point": {**RED, "x": 1000}},
        ])
    assert _point(keyframe) == []


def test_update_of_deleted_hint_is_a_conflict_delete_is_idempotent(keyframe, users):
    apply_hint_ops(keyframe, users["annotator"], [{"op": "add_point", "point": {**RED, "id": "p1"}}])
    apply_hint_ops(keyframe, users["manager"], [{"op": "delete_point", "id": "p1"}])
    head = apply_hint_ops(keyframe, users["annotator"], [{"op": "delete_point", "id": "p1"}])
    assert head.number == 3
    with pytest.raises(Conflict, match="no longer exists"):
        apply_hint_ops(keyframe, users["annotator"], [{"op": "update_point", "id": "p1", "changes": {"x": 1}}])


def test_whole_set_save_checks_base_revision(keyframe, users):
    hints = {"points": [{**RED, "id": "p1"}], "strokes": [{**STROKE, "id": "s1"}]}
    revision = save_hints(keyframe, users["annotator"], hints, base_revision=1, message="saved")
    assert revision.number == 2 and revision.content["strokes"][0]["id"] == "s1"
    with pytest.raises(Conflict, match="changed since revision 1"):
        save_hints(keyframe, users["manager"], {"points": [], "strokes": []}, base_revision=1)
    assert save_hints(keyframe, users["manager"], {"points": [], "strokes": []}, base_revision=2).number == 3


def test_edit_returns_keyframe_to_draft(keyframe, users):
    Keyframe.objects.filter(pk=keyframe.pk).update(review_status=Keyframe.ReviewStatus.APPROVED)
    apply_hint_ops(keyframe, users["annotator"], [{"op": "add_point", "point": RED}])
    keyframe.refresh_from_db()
    assert keyframe.review_status == Keyframe.ReviewStatus.DRAFT
    event = AuditEvent.objects.filter(verb="hints.edited").latest("id")
    assert event.before["review_status"] == "approved" and event.after["review_status"] == "draft"


def test_delete_keyframe_is_audited(keyframe, users):
    apply_hint_ops(keyframe, users["annotator"], [{"op": "add_point", "point": RED}])
    shot = keyframe.shot
    delete_keyframe(keyframe, users["annotator"])
    event = AuditEvent.objects.get(verb="keyframe.deleted")
    assert event.before["revisions"] == 2 and event.actor == users["annotator"]
    shot.refresh_from_db()
    assert shot.status == "ready"


def test_an_edit_resent_with_its_id_applies_once(keyframe, users):
    """A client that lost its connection before the answer sends its edit again, with the same id."""
    ops = [{"op": "add_point", "point": {**RED, "id": "p1"}}]
    first = apply_hint_ops(keyframe, users["annotator"], ops, edit_id="tab7-e1")
    other = apply_hint_ops(keyframe, users["manager"], [{"op": "delete_point", "id": "p1"}])
    again = apply_hint_ops(keyframe, users["annotator"], ops, edit_id="tab7-e1")
    assert again.pk == first.pk and first.number == 2 and other.number == 3
    keyframe.refresh_from_db()
    assert keyframe.head.number == 3 and keyframe.hints["points"] == []  # the delete is not undone
    assert AuditEvent.objects.filter(verb="hints.edited").count() == 2
    with pytest.raises(Invalid, match="edit_id"):
        apply_hint_ops(keyframe, users["annotator"], ops, edit_id="no spaces/slashes")


@pytest.mark.django_db(transaction=True)
def test_concurrent_editors_never_lose_an_edit(keyframe, users):
    """Eight editors add points at the same time: every point lands, revisions stay a sequence."""
    from django.db import connections

    errors = []

    def editor(n):
        try:
            for k in range(3):
                apply_hint_ops(keyframe, users["annotator"],
                               [{"op": "add_point", "point": {**RED, "x": n, "y": k, "id": f"e{n}-{k}"}}])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=editor, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    keyframe.refresh_from_db()
    assert len(keyframe.hints["points"]) == 24
    assert sorted(keyframe.revisions.values_list("number", flat=True)) == list(range(1, 26))
    assert keyframe.head.number == 25
