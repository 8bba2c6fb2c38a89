"""Keyframe pages: a shot's timeline with its keyframes, and the keyframe editor. They render the
page and its initial data; everything they change goes through the REST API (annotations.api) or
the keyframe socket, which go through the actions."""
from __future__ import annotations

import cv2
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse

from annotations import frames
from annotations.keyframes.plan import keyframe_plan
from annotations.keyframes.state import preview_state
from annotations.models import Shot
from annotations.permissions import Cap, capabilities, get_keyframe, get_shot
from annotations.projects import actions as project_actions
from inference.color import to_uint8


def _timecodes(shot: Shot) -> list[str]:
    return [shot.timecode(i) for i in range(shot.frame_count)]


@login_required
def shot_page(request, pk):
    shot = get_shot(request.user, pk)
    caps = capabilities(request.user, shot.project)
    state = preview_state()
    keyframes = [{"id": k.pk, "frame": k.frame, "review_status": k.review_status,
                  "revision": k.head.number if k.head else 1,
                  "has_preview": state.done(k.pk) > 0,
                  "url": reverse("studio:keyframe", args=[k.pk])}
                 for k in shot.keyframes.select_related("head")]
    return render(request, "studio/shot.html", {
        "shot": shot, "project": shot.project, "can_edit": Cap.EDIT_HINTS in caps,
        "data": {
            "id": shot.pk, "project": shot.project_id, "frameCount": shot.frame_count,
            "rate": [shot.footage.frame_rate_num, shot.footage.frame_rate_den],
            "width": shot.width, "height": shot.height, "timecodes": _timecodes(shot),
            "keyframes": keyframes, "canEdit": Cap.EDIT_HINTS in caps,
            "frameUrl": reverse("api:shot-frame", args=[shot.pk, 0]).replace("/0.jpg", "/{frame}.jpg"),
            "keyframesApi": reverse("api:shot-keyframes", args=[shot.pk]),
            "suggestionsUrl": reverse("studio:suggested-keyframes", args=[shot.pk]),
            "previewUrl": reverse("studio:keyframe-preview", args=[0]).replace("/0/", "/{id}/"),
            "editorUrl": reverse("studio:keyframe", args=[0]).replace("/0/", "/{id}/"),
            "renderUrl": (reverse("studio:rendered-frame", args=[shot.pk, 0]).replace("/0.jpg", "/{frame}.jpg")
                          if shot.latest_render() else None),
        },
    })


@login_required
def suggested_keyframes(request, pk):
    """Where to key the shot (annotations.keyframes.plan), for `?level=` (0..1, default the setting)."""
    shot = get_shot(request.user, pk)
    try:
        level = float(request.GET["level"]) if "level" in request.GET else None
        return JsonResponse(keyframe_plan(shot, level))
    except ValueError:
        return JsonResponse({"detail": "level must be a number between 0 and 1"}, status=400)


@login_required
def keyframe_preview(request, pk):
    """The newest finished preview of a keyframe as JPEG (404 while there is none)."""
    keyframe = get_keyframe(request.user, pk)
    latest = preview_state().latest(keyframe.pk)
    if latest is None or not latest[1]:
        raise Http404("no preview yet")
    response = HttpResponse(latest[1], content_type="image/jpeg")
    response["Cache-Control"] = "no-store"
    response["X-Revision"] = str(latest[0])
    return response


@login_required
def keyframe_frame(request, pk):
    """The keyframe's frame at full resolution (8-bit luma PNG): the editor zooms to its pixels."""
    keyframe = get_keyframe(request.user, pk)
    luma = frames.shot_luma(keyframe.shot, keyframe.frame)
    ok, data = cv2.imencode(".png", to_uint8(luma), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    response = HttpResponse(data.tobytes(), content_type="image/png")
    response["Cache-Control"] = "private, max-age=3600"
    return response


@login_required
def keyframe_page(request, pk):
    keyframe = get_keyframe(request.user, pk)
    shot, project = keyframe.shot, keyframe.shot.project
    caps = capabilities(request.user, project)
    return render(request, "studio/keyframe.html", {
        "keyframe": keyframe, "shot": shot, "project": project, "timecode": shot.timecode(keyframe.frame),
        "data": {
            "id": keyframe.pk, "frame": keyframe.frame, "width": shot.width, "height": shot.height,
            "canEdit": Cap.EDIT_HINTS in caps, "canSubmit": Cap.SUBMIT in caps, "user": request.user.username,
            "reviewStatus": keyframe.review_status,
            "reviewsUrl": reverse("api:keyframe-reviews", args=[keyframe.pk]),
            "commentsUrl": reverse("api:keyframe-comments", args=[keyframe.pk]),
            "submitUrl": reverse("api:keyframe-submit", args=[keyframe.pk]),
            "reviewPage": reverse("review-keyframe", args=[keyframe.pk]),
            "frameUrl": reverse("studio:keyframe-frame", args=[keyframe.pk]),
            "socketPath": f"/ws/keyframes/{keyframe.pk}/",
            "references": project_actions.reference_library(project),
        },
    })
