"""Keyframes and their append-only hint revisions.

Edits are small operations applied to the LATEST revision while holding the keyframe's row
lock, so two people editing at once both land: each op addresses one hint by its stable id.

Operations (a list, applied in order, atomically):
    {"op": "add_point",     "point": {"x", "y", "color", "radius"?, "reference"?, "id"?}}
    {"op": "update_point",  "id": ..., "changes": {any of x, y, color, radius, reference}}
    {"op": "delete_point",  "id": ...}
    {"op": "add_stroke",    "stroke": {"points": [[x, y], ...], "width"?, "id"?}}
    {"op": "update_stroke", "id": ..., "changes": {any of points, width}}
    {"op": "delete_stroke", "id": ...}
    {"op": "replace_all",   "hints": {"points": [...], "strokes": [...]}}
Deleting a hint that is already gone is a no-op; updating one that is gone is a conflict (409).

An edit may carry an `edit_id` chosen by the client: a client that lost its connection before
the answer came resends its edits with the same ids, and each applies once.
"""
from __future__ import annotations

import copy
import re
import uuid

from django.db import IntegrityError, transaction

from annotations import events, permissions
from annotations.audit import record
from annotations.errors import Conflict, Invalid
from annotations.keyframes import previews
from annotations.models import ColorReference, HintRevision, Keyframe, Review, Role, Shot
from annotations.models.keyframes import EMPTY_HINTS, content_hash
from annotations.notifications import notify, where
from annotations.permissions import Cap
from inference.hints import HintError, parse_hints

MAX_OPS = 500
EDIT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")  # also what the API form accepts
_FIELDS = {"point": {"x", "y", "color", "radius", "reference"}, "stroke": {"points", "width"}}


def lock_keyframe(keyframe: Keyframe) -> Keyframe:
    """The keyframe's row, locked until the transaction ends, with its current head revision.

    The lock is taken on the bare row: joined rows (head, shot) are read after it is granted,
    since PostgreSQL would re-check a joined outer row after a lock wait and may drop it.
    """
    locked = Keyframe.objects.select_for_update().get(pk=keyframe.pk)
    return Keyframe.objects.select_related("shot__footage", "shot__project", "head").get(pk=locked.pk)


def _sync_shot_status(shot: Shot) -> None:
    if shot.status not in (Shot.Status.READY, Shot.Status.ANNOTATING):
        return
    status = Shot.Status.ANNOTATING if shot.keyframes.exists() else Shot.Status.READY
    if status != shot.status:
        Shot.objects.filter(pk=shot.pk).update(status=status)
        shot.status = status


@transaction.atomic
def add_keyframe(shot: Shot, actor, frame: int) -> Keyframe:
    """A keyframe at shot frame `frame`, starting with revision 1: an empty hint set."""
    permissions.require(actor, shot.project_id, Cap.EDIT_HINTS)
    if isinstance(frame, bool) or not isinstance(frame, int) or not 0 <= frame < shot.frame_count:
        raise Invalid(f"frame must be an integer from 0 to {shot.frame_count - 1}, got {frame!r}")
    try:
        with transaction.atomic():
            keyframe = Keyframe.objects.create(shot=shot, frame=frame, created_by=actor)
    except IntegrityError:
        raise Conflict(f"frame {frame} is already a keyframe of this shot") from None
    keyframe.head = HintRevision.objects.create(
        keyframe=keyframe, number=1, author=actor, content=dict(EMPTY_HINTS),
        content_hash=content_hash(EMPTY_HINTS), message="keyframe added")
    keyframe.save(update_fields=["head"])
    _sync_shot_status(shot)
    record(shot.project, actor, "keyframe.added", keyframe,
           after={"shot": shot.pk, "frame": frame, "timecode": shot.timecode(frame)},
           groups=[events.shot_group(shot.pk)])
    return keyframe


@transaction.atomic
def delete_keyframe(keyframe: Keyframe, actor) -> None:
    keyframe = lock_keyframe(keyframe)
    permissions.require(actor, keyframe.shot.project_id, Cap.EDIT_HINTS)
    shot = keyframe.shot
    record(shot.project, actor, "keyframe.deleted", keyframe,
           before={"shot": shot.pk, "frame": keyframe.frame, "revisions": keyframe.head.number,
                   "content_hash": keyframe.head.content_hash, "review_status": keyframe.review_status},
           groups=[events.shot_group(shot.pk), events.keyframe_group(keyframe.pk)])
    keyframe.delete()
    _sync_shot_status(shot)


def _new_id() -> str:
    return uuid.uuid4().hex[:12]


def _find(items: list[dict], hint_id) -> int | None:
    return next((i for i, item in enumerate(items) if item.get("id") == hint_id), None)


def _apply(content: dict, op: dict, index: int, head_number: int) -> None:
    """Apply one operation to `content` in place (validation of the result happens after)."""
    if not isinstance(op, dict) or not isinstance(op.get("op"), str):
        raise Invalid(f"operation {index} must be an object with an 'op' field")
    name = op["op"]
    if name == "replace_all":
        if not isinstance(op.get("hints"), dict):
            raise Invalid(f"operation {index} (replace_all) needs 'hints'")
        content.clear()
        content.update({"points": list(op["hints"].get("points", [])), "strokes": list(op["hints"].get("strokes", []))})
        return
    verb, _, kind = name.partition("_")
    if kind not in _FIELDS or verb not in ("add", "update", "delete"):
        raise Invalid(f"operation {index}: unknown op {name!r}")
    items = content.setdefault(kind + "s", [])
    if verb == "add":
        item = op.get(kind)
        if not isinstance(item, dict):
            raise Invalid(f"operation {index} ({name}) needs '{kind}' as an object")
        if _find(items, item.get("id")) is not None:
            raise Invalid(f"operation {index}: a {kind} with id {item['id']!r} already exists")
        items.append(dict(item))
        return
    position = _find(items, op.get("id"))
    if verb == "delete":
        if position is not None:
            items.pop(position)
        return
    if position is None:
        raise Conflict(f"{kind} {op.get('id')!r} no longer exists (revision {head_number}); it was deleted by someone else")
    changes = op.get("changes")
    if not isinstance(changes, dict) or not changes:
        raise Invalid(f"operation {index} ({name}) needs 'changes' as a non-empty object")
    unknown = set(changes) - _FIELDS[kind]
    if unknown:
        raise Invalid(f"operation {index}: cannot change {', '.join(sorted(unknown))} of a {kind}")
    items[position] = {**items[position], **changes}


def _with_ids(ops: list) -> list:
    """Copies of the ops where every added hint has an id (so clients can address it later)."""
    result = []
    for op in ops:
        op = copy.deepcopy(op)
        if isinstance(op, dict):
            for kind in _FIELDS:
                item = op.get(kind) if op.get("op") == f"add_{kind}" else None
                if isinstance(item, dict) and not item.get("id"):
                    item["id"] = _new_id()
            hints = op.get("hints") if op.get("op") == "replace_all" else None
            if isinstance(hints, dict):
                for kind in _FIELDS:
                    for item in hints.get(kind + "s", []) if isinstance(hints.get(kind + "s"), list) else []:
                        if isinstance(item, dict) and not item.get("id"):
                            item["id"] = _new_id()
        result.append(op)
    return result


def _validate(content: dict, shot: Shot) -> dict:
    try:
        hints = parse_hints(content, shot.width, shot.height).to_dict()
    except HintError as exc:
        raise Invalid(str(exc)) from None
    for kind in ("points", "strokes"):
        ids = [item["id"] for item in hints[kind]]
        if len(ids) != len(set(ids)):
            raise Invalid(f"duplicate {kind[:-1]} ids")
    # A hint may cite only a color reference of its own project.
    cited = {point["reference"] for point in hints["points"] if "reference" in point}
    known = set(ColorReference.objects.filter(project_id=shot.project_id, pk__in=cited).values_list("pk", flat=True))
    if cited - known:
        raise Invalid(f"unknown color reference {min(cited - known)} in this project")
    return hints


def apply_hint_ops(keyframe: Keyframe, actor, ops: list, *, message: str = "", base_revision: int | None = None,
                   edit_id: str = "") -> HintRevision:
    """Apply `ops` to the latest hints under the keyframe's row lock; returns the new head revision.
    Once committed, a preview of the new revision is asked for (annotations.keyframes.previews).
    An edit of a submitted or approved keyframe makes it a draft again and notifies who approved
    it (a submission: the project's reviewers) with a `keyframe.withdrawn` notification.

    If the result equals the latest hints, no revision is written and the head is returned.
    With `base_revision`, the edit is refused (409) unless it is still the latest revision.
    With an `edit_id` already applied to this keyframe, nothing changes and that revision is returned.
    """
    if not isinstance(ops, list) or not ops:
        raise Invalid("ops must be a non-empty list of operations")
    if len(ops) > MAX_OPS:
        raise Invalid(f"at most {MAX_OPS} operations per edit")
    if edit_id and not (isinstance(edit_id, str) and EDIT_ID.fullmatch(edit_id)):
        raise Invalid("edit_id must be 1 to 64 letters, digits or _.:-")
    ops = _with_ids(ops)
    with transaction.atomic():
        keyframe = lock_keyframe(keyframe)
        permissions.require(actor, keyframe.shot.project_id, Cap.EDIT_HINTS)
        applied = HintRevision.objects.filter(keyframe=keyframe, edit_id=edit_id).first() if edit_id else None
        if applied is not None:
            return applied
        head = keyframe.head
        if base_revision is not None and base_revision != head.number:
            raise Conflict(f"the hints changed since revision {base_revision} (latest is {head.number}); reload and retry")
        content = copy.deepcopy(head.content)
        for index, op in enumerate(ops):
            _apply(content, op, index, head.number)
        hints = _validate(content, keyframe.shot)
        digest = content_hash(hints)
        if digest == head.content_hash:
            return head
        revision = HintRevision.objects.create(keyframe=keyframe, number=head.number + 1, author=actor,
                                               content=hints, content_hash=digest, message=message[:500], ops=ops,
                                               edit_id=edit_id)
        before_status = keyframe.review_status
        keyframe.head = revision
        # Any edit invalidates a submission or approval: they are bound to one content hash.
        keyframe.review_status = Keyframe.ReviewStatus.DRAFT
        keyframe.save(update_fields=["head", "review_status"])
        record(keyframe.shot.project, actor, "hints.edited", keyframe,
               before={"revision": head.number, "content_hash": head.content_hash, "review_status": before_status},
               after={"revision": revision.number, "content_hash": digest, "ops": ops,
                      "review_status": keyframe.review_status},
               groups=[events.keyframe_group(keyframe.pk)],
               data={"keyframe": keyframe.pk, "revision": revision.number, "content_hash": digest,
                     "ops": ops, "hints": hints, "review_status": keyframe.review_status})
        if before_status in (Keyframe.ReviewStatus.SUBMITTED, Keyframe.ReviewStatus.APPROVED):
            _tell_reviewers(keyframe, actor, before_status, revision)
        # Whoever edits (socket or REST API), the keyframe's editors get a preview of the new hints.
        keyframe_id, number = keyframe.pk, revision.number
        transaction.on_commit(lambda: previews.request_preview(keyframe_id, number))
        return revision


def _tell_reviewers(keyframe: Keyframe, actor, before_status: str, revision: HintRevision) -> None:
    """An edit withdrew a submission or an approval: tell who approved it, or the project's reviewers."""
    project = keyframe.shot.project
    if before_status == Keyframe.ReviewStatus.APPROVED:
        approval = keyframe.reviews.filter(kind=Review.Kind.APPROVED).exclude(actor=None).select_related("actor").last()
        recipients = [approval.actor] if approval else []
        what = "its approval is withdrawn"
    else:
        recipients = [m.user for m in project.memberships.filter(role=Role.REVIEWER).select_related("user")]
        what = "its submission is withdrawn"
    notify(project, recipients, actor, "keyframe.withdrawn",
           f"{actor.username} edited {where(keyframe)} (revision {revision.number}): {what}, it is a draft again",
           keyframe=keyframe)


def save_hints(keyframe: Keyframe, actor, hints: dict, *, base_revision: int | None = None, message: str = "") -> HintRevision:
    """Replace the whole hint set; with `base_revision`, only if nobody saved since (else 409)."""
    if not isinstance(hints, dict):
        raise Invalid("hints must be a JSON object with 'points' and 'strokes'")
    return apply_hint_ops(keyframe, actor, [{"op": "replace_all", "hints": hints}],
                          message=message, base_revision=base_revision)
