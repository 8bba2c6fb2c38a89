"""Review pages: a keyframe's hints, preview and cited sources side by side; a shot's review and
renders; the exportable review report; the user's notifications.

Pages only read; every change goes through the REST API (and so through the same role checks).
"""
from __future__ import annotations

import base64

import cv2
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import content_disposition_header

from annotations import engines, frames, storage
from annotations.models import Keyframe, Notification
from annotations.permissions import Cap, capabilities, get_keyframe, get_shot
from annotations.review import actions as review_actions
from annotations.shot_state import shot_state

PREVIEW_LONG_SIDE = 960
THUMB_LONG_SIDE = 320


def colorized(keyframe: Keyframe, revision, long_side: int = PREVIEW_LONG_SIDE) -> bytes:
    """PNG of the keyframe colorized from `revision`'s hints, as a render would (cached by content)."""
    method = settings.COLORPROJ_RENDER_KEYFRAME_METHOD
    shot = keyframe.shot
    weights = (engines.describe(method, "flow")["keyframe"].get("weights_sha256") or "none")[:12]
    name = (f"review/previews/{shot.footage.uid}/{keyframe.frame}-{revision.content_hash}-{method}-{weights}-"
            f"{long_side}.png")
    if default_storage.exists(name):
        with default_storage.open(name, "rb") as handle:
            return handle.read()
    rgb = engines.colorize_keyframe(shot, keyframe.frame, revision.content, method)
    width, height = frames.proxy_size(shot.width, shot.height, long_side)
    if (width, height) != (shot.width, shot.height):
        rgb = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
    data = frames.encode_png(rgb)
    storage.put(name, data)
    return data


@login_required
def keyframe_preview(request, pk):
    """The colorized preview of a revision (`?revision=N`, default the latest)."""
    keyframe = get_keyframe(request.user, pk)
    revision = keyframe.head
    number = request.GET.get("revision", "")
    if number.isdigit():
        revision = keyframe.revisions.filter(number=int(number)).first() or revision
    response = HttpResponse(colorized(keyframe, revision), content_type="image/png")
    response["Cache-Control"] = "private, max-age=3600"
    return response


@login_required
def keyframe_review(request, pk):
    keyframe = get_keyframe(request.user, pk)
    shot = keyframe.shot
    caps = capabilities(request.user, shot.project)
    cited, unlinked = review_actions.cited_references(keyframe, keyframe.head)
    authors = review_actions.authors(keyframe, keyframe.head)
    comments = keyframe.review_comments.select_related("author", "revision")
    approval = review_actions.current_approval(keyframe)
    return _page(request, "review/keyframe.html", {
        "keyframe": keyframe, "shot": shot, "project": shot.project, "revision": keyframe.head,
        # An approval's own sources include the references the reviewer checked besides the cited ones.
        "sources": approval.sources if approval else review_actions.snapshots(cited, keyframe.head),
        "unlinked": unlinked,
        "references": shot.project.references.all(),
        "history": keyframe.reviews.select_related("actor", "revision"),
        "comments": comments, "comments_json": [{"x": c.x, "y": c.y} for c in comments if c.x is not None],
        "timecode": shot.timecode(keyframe.frame), "approval": approval,
        "can_review": Cap.REVIEW in caps and request.user.pk not in authors,
        "is_author": request.user.pk in authors,
        "can_submit": Cap.SUBMIT in caps, "can_comment": bool(caps & {Cap.REVIEW, Cap.EDIT_HINTS}),
        "hints_json": keyframe.head.content,
    })


@login_required
def shot_review(request, pk):
    shot = get_shot(request.user, pk)
    caps = capabilities(request.user, shot.project)
    try:
        review_actions.approved_keyframes(shot)
        blocked = None
    except review_actions.Conflict as exc:
        blocked = exc.message
    return _page(request, "review/shot.html", {
        "shot": shot, "project": shot.project, "blocked": blocked, "state": shot_state(shot),
        "keyframes": shot.keyframes.select_related("head"),
        "renders": shot.renders.select_related("requested_by").prefetch_related("stretches", "deliverables")[:20],
        # The newest finished render whose frames are kept opens in the player; older ones on demand.
        "player_render": getattr(shot.latest_render(), "pk", None),
        "can_render": Cap.RENDER in caps, "can_download": Cap.DOWNLOAD in caps,
        "default_start": settings.COLORPROJ_SEQUENCE_START,
    })


def _page(request, template: str, context: dict):
    """A review page, with the user's unread notification count for the navigation bar."""
    unread = Notification.objects.filter(recipient=request.user, read_at=None,
                                         project__memberships__user=request.user).distinct().count()
    return render(request, template, {**context, "unread": unread})


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


@login_required
def review_report(request, pk):
    """The shot's review report: self-contained HTML (thumbnails inline); `?download=1` to save it."""
    shot = get_shot(request.user, pk)
    rows = []
    for keyframe in shot.keyframes.select_related("head"):
        approval = review_actions.current_approval(keyframe)
        history = keyframe.reviews.select_related("actor", "revision")
        rows.append({
            "keyframe": keyframe, "timecode": shot.timecode(keyframe.frame), "approval": approval,
            "history": history,
            "thumbnail": _data_uri(colorized(keyframe, approval.revision, THUMB_LONG_SIDE)) if approval else None,
            "comments": keyframe.review_comments.select_related("author", "revision"),
        })
    renders = shot.renders.filter(status="done").select_related("requested_by")[:5]
    response = render(request, "review/report.html", {
        "shot": shot, "project": shot.project, "rows": rows, "renders": renders, "generated": timezone.now(),
        "generated_by": request.user,
        "all_approved": bool(rows) and all(r["approval"] for r in rows),
    })
    if request.GET.get("download"):
        name = f"{storage.slug(shot.name)}_review_report.html"
        response["Content-Disposition"] = content_disposition_header(True, name)
    return response


@login_required
def notifications(request):
    items = Notification.objects.filter(recipient=request.user, project__memberships__user=request.user) \
        .distinct().select_related("actor", "project", "keyframe", "shot")[:200]
    return render(request, "review/notifications.html", {"notifications": items})
