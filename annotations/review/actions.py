"""The historical-accuracy review: submit, approve, request changes, comment, notify.

    draft --submit--> submitted --approve--> approved
                          |                     |
                          +--request_changes----+--> changes_requested
    any hint edit (annotations.keyframes.actions) --> draft

Every step is a Review row bound to the exact hint revision (content hash) it was about;
an approval counts only while the keyframe still holds that content.
"""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from annotations import events, permissions
from annotations.audit import record
from annotations.errors import Conflict, Invalid, NotAllowed
from annotations.keyframes.actions import lock_keyframe
from annotations.models import (ColorReference, HintRevision, Keyframe, Notification, Review,
                                ReviewComment, Role, Shot)
from annotations.notifications import notify, where  # noqa: F401 (notify: render.actions uses review.notify)
from annotations.permissions import Cap

S = Keyframe.ReviewStatus
MAX_COMMENT = 5000


def _check_hash(keyframe: Keyframe, content_hash: str | None) -> None:
    """The reviewer decides on what they saw: refuse if the hints changed since."""
    if content_hash and content_hash != keyframe.head.content_hash:
        raise Conflict(f"the hints changed since you opened them (now revision {keyframe.head.number}); "
                       "reload and review again")


def authors(keyframe: Keyframe, revision: HintRevision) -> set[int]:
    """Users whose work the revision is: everyone who wrote it or an earlier revision, and the submitter."""
    ids = set(HintRevision.objects.filter(keyframe=keyframe, number__lte=revision.number)
              .exclude(author=None).values_list("author_id", flat=True))
    if keyframe.created_by_id:
        ids.add(keyframe.created_by_id)
    submitter = (Review.objects.filter(keyframe=keyframe, revision=revision, kind=Review.Kind.SUBMITTED)
                 .exclude(actor=None).values_list("actor_id", flat=True).last())
    if submitter:
        ids.add(submitter)
    return ids


def reference_snapshot(reference: ColorReference, points: list[str]) -> dict:
    link = reference.url if reference.url.lower().startswith(("http://", "https://")) else ""
    return {"id": reference.pk, "name": reference.name, "color": reference.color,
            "source_kind": reference.source_kind, "citation": reference.citation, "url": reference.url, "link": link,
            "notes": reference.notes, "attachments": [a.name for a in reference.attachments.all()],
            "points": points}


def cited_references(keyframe: Keyframe, revision: HintRevision, extra=()) -> tuple[list[ColorReference], list[dict]]:
    """References the revision's hint colors point at (plus `extra` ids), and unlinked points."""
    points = revision.content.get("points", [])
    wanted = {p["reference"] for p in points if p.get("reference") is not None} | set(extra)
    found = {r.pk: r for r in ColorReference.objects.filter(project=keyframe.shot.project_id, pk__in=wanted)
             .prefetch_related("attachments")}
    missing_extra = set(extra) - set(found)
    if missing_extra:
        raise Invalid(f"no color reference {sorted(missing_extra)} in this project")
    unlinked = [p for p in points if found.get(p.get("reference")) is None]
    return [found[pk] for pk in sorted(found)], unlinked


def snapshots(references, revision) -> list[dict]:
    points = revision.content.get("points", [])
    return [reference_snapshot(r, [p["id"] for p in points if p.get("reference") == r.pk]) for r in references]


def _members(project, role: str):
    return get_user_model().objects.filter(memberships__project=project, memberships__role=role)


def _step(keyframe: Keyframe, actor, kind: str, status: str, *, comment: str = "", references=(),
          sources=None) -> Review:
    before = keyframe.review_status
    review = Review.objects.create(keyframe=keyframe, revision=keyframe.head, content_hash=keyframe.head.content_hash,
                                   kind=kind, actor=actor, comment=comment, sources=sources or [])
    if references:
        review.references.set(references)
    keyframe.review_status = status
    keyframe.save(update_fields=["review_status"])
    shot = keyframe.shot
    record(shot.project, actor, f"keyframe.{kind}", keyframe,
           before={"review_status": before},
           after={"review_status": status, "revision": keyframe.head.number,
                  "content_hash": keyframe.head.content_hash, "comment": comment,
                  "references": [s["id"] for s in review.sources]},
           groups=[events.shot_group(shot.pk), events.keyframe_group(keyframe.pk)],
           data={"keyframe": keyframe.pk, "shot": shot.pk, "review_status": status, "review": review.pk,
                 "revision": keyframe.head.number, "content_hash": keyframe.head.content_hash})
    return review


@transaction.atomic
def submit(keyframe: Keyframe, actor, message: str = "") -> Review:
    """Hand the keyframe's current hints to the reviewers."""
    keyframe = lock_keyframe(keyframe)
    permissions.require(actor, keyframe.shot.project, Cap.SUBMIT)
    if keyframe.review_status != S.DRAFT:
        raise Conflict(f"only a draft can be submitted; this keyframe is {keyframe.get_review_status_display().lower()}"
                       + (" (edit its hints to reopen it)" if keyframe.review_status == S.CHANGES_REQUESTED else ""))
    review = _step(keyframe, actor, Review.Kind.SUBMITTED, S.SUBMITTED, comment=(message or "")[:MAX_COMMENT])
    notify(keyframe.shot.project, _members(keyframe.shot.project, Role.REVIEWER), actor, "keyframe.submitted",
           f"{actor.username} submitted {where(keyframe)} for review", keyframe=keyframe)
    return review


@transaction.atomic
def approve(keyframe: Keyframe, actor, *, content_hash: str | None = None, comment: str = "",
            references=()) -> Review:
    """Approve the submitted revision, recording the color references (and sources) behind it.

    `references`: ids of further references the reviewer checked, besides those the hints cite.
    """
    keyframe = lock_keyframe(keyframe)
    project = keyframe.shot.project
    permissions.require(actor, project, Cap.REVIEW)
    if keyframe.review_status != S.SUBMITTED:
        raise Conflict(f"only a submitted keyframe can be approved; this one is "
                       f"{keyframe.get_review_status_display().lower()}")
    _check_hash(keyframe, content_hash)
    if actor.pk in authors(keyframe, keyframe.head):
        raise NotAllowed("you cannot approve your own work: this revision was written or submitted by you")
    try:
        extra = {int(r) for r in references}
    except (TypeError, ValueError):
        raise Invalid("references must be a list of color reference ids") from None
    cited, unlinked = cited_references(keyframe, keyframe.head, extra)
    if project.require_references and unlinked:
        listed = ", ".join(f"{p['id']} ({p['color']})" for p in unlinked[:10])
        raise Conflict(f"this project requires every hint color to be linked to a color reference; "
                       f"{len(unlinked)} point(s) are not: {listed}")
    review = _step(keyframe, actor, Review.Kind.APPROVED, S.APPROVED, comment=(comment or "")[:MAX_COMMENT],
                   references=cited, sources=snapshots(cited, keyframe.head))
    recipients = get_user_model().objects.filter(pk__in=authors(keyframe, keyframe.head))
    notify(project, recipients, actor, "keyframe.approved", f"{actor.username} approved {where(keyframe)}",
           keyframe=keyframe)
    return review


@transaction.atomic
def request_changes(keyframe: Keyframe, actor, comment: str, *, content_hash: str | None = None) -> Review:
    """Send the keyframe back (from submitted, or withdraw an approval), saying why."""
    keyframe = lock_keyframe(keyframe)
    project = keyframe.shot.project
    permissions.require(actor, project, Cap.REVIEW)
    comment = (comment or "").strip()
    if not comment:
        raise Invalid("say what should change: a comment is required")
    if keyframe.review_status not in (S.SUBMITTED, S.APPROVED):
        raise Conflict(f"changes can be requested on a submitted or approved keyframe; this one is "
                       f"{keyframe.get_review_status_display().lower()}")
    _check_hash(keyframe, content_hash)
    review = _step(keyframe, actor, Review.Kind.CHANGES_REQUESTED, S.CHANGES_REQUESTED, comment=comment[:MAX_COMMENT])
    recipients = get_user_model().objects.filter(pk__in=authors(keyframe, keyframe.head))
    notify(project, recipients, actor, "keyframe.changes_requested",
           f"{actor.username} requested changes on {where(keyframe)}: {comment[:200]}", keyframe=keyframe)
    return review


@transaction.atomic
def add_comment(keyframe: Keyframe, actor, text: str, x=None, y=None):
    """A remark on the current revision, pinned to (x, y) in source pixels when given."""
    keyframe = lock_keyframe(keyframe)
    project = keyframe.shot.project
    caps = permissions.capabilities(actor, project)
    if not caps:
        permissions.require(actor, project, Cap.VIEW)
    if not caps & {Cap.REVIEW, Cap.EDIT_HINTS}:
        raise NotAllowed("only reviewers and annotators comment on keyframes")
    text = (text or "").strip()
    if not text:
        raise Invalid("a comment needs text")
    if (x is None) != (y is None):
        raise Invalid("give both x and y to pin a comment to a point, or neither")
    if x is not None:
        for name, value, limit in (("x", x, keyframe.shot.width), ("y", y, keyframe.shot.height)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < limit:
                raise Invalid(f"{name} must be a number from 0 to {limit} (source pixels), got {value!r}")
    comment = ReviewComment.objects.create(keyframe=keyframe, revision=keyframe.head, author=actor,
                                           text=text[:MAX_COMMENT], x=x, y=y)
    shot = keyframe.shot
    record(project, actor, "keyframe.commented", comment,
           after={"keyframe": keyframe.pk, "revision": keyframe.head.number, "text": comment.text, "x": x, "y": y},
           groups=[events.shot_group(shot.pk), events.keyframe_group(keyframe.pk)])
    reviewers = Review.objects.filter(keyframe=keyframe).exclude(actor=None).values_list("actor_id", flat=True)
    recipients = get_user_model().objects.filter(pk__in=authors(keyframe, keyframe.head) | set(reviewers))
    notify(project, recipients, actor, "keyframe.commented",
           f"{actor.username} commented on {where(keyframe)}: {comment.text[:200]}", keyframe=keyframe)
    return comment


def mark_read(user, ids=None) -> int:
    """Mark the user's notifications (all, or those with `ids`) read; returns how many changed."""
    notifications = Notification.objects.filter(recipient=user, read_at=None)
    if ids is not None:
        notifications = notifications.filter(pk__in=list(ids))
    return notifications.update(read_at=timezone.now())


# --- What renders rely on ------------------------------------------------------------------------

def current_approval(keyframe: Keyframe) -> Review | None:
    """The approval that still counts: the latest one, bound to the keyframe's current content."""
    if keyframe.review_status != S.APPROVED or keyframe.head_id is None:
        return None
    review = keyframe.reviews.filter(kind=Review.Kind.APPROVED).select_related("revision", "actor").last()
    if review is None or review.content_hash != keyframe.head.content_hash:
        return None
    return review


def approved_keyframes(shot: Shot) -> list[tuple[Keyframe, Review]]:
    """Every keyframe of the shot with its counting approval; Conflict naming those not approved."""
    keyframes = list(shot.keyframes.select_related("head").order_by("frame"))
    if not keyframes:
        raise Conflict("this shot has no keyframes; add, submit and approve at least one before rendering")
    pairs, waiting = [], []
    for keyframe in keyframes:
        approval = current_approval(keyframe)
        if approval is None:
            waiting.append(f"frame {keyframe.frame} ({keyframe.get_review_status_display().lower()})")
        pairs.append((keyframe, approval))
    if waiting:
        raise Conflict("every keyframe must be approved before rendering; not approved: " + ", ".join(waiting))
    return pairs
