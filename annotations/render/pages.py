"""Render pages: a frame of the shot's newest render (the shot page's before/after wipe), a
render's live progress for the review page, and the render player's frames and data (a render's
frames beside the grayscale source and the shot's previous render, its flagged frames)."""
from __future__ import annotations

import cv2
import numpy as np
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.db.models import Q
from django.http import Http404, HttpResponse, JsonResponse
from django.urls import reverse

from annotations import frames
from annotations.models import Render
from annotations.permissions import get_for_user, get_shot
from annotations.render.pipeline import frame_name


def _frame_jpeg(render_row: Render, frame: int) -> HttpResponse:
    """Frame `frame` (0-based in the shot) of a finished render as a proxy-sized JPEG (long side
    <= COLORPROJ_PROXY_LONG_SIDE, the size of the source proxies it is compared with). 404 when
    the frame is not stored (out of range, or the render's files were removed)."""
    if render_row.files_removed or not 0 <= frame < render_row.shot.frame_count:
        raise Http404("no rendered frame")
    name = frame_name(render_row, frame)
    if not default_storage.exists(name):
        raise Http404("no rendered frame")
    rgb = frames.read_png(name)
    if rgb.dtype != np.uint8:
        rgb = (rgb.astype(np.float32) / 257.0 + 0.5).astype(np.uint8)
    w, h = frames.proxy_size(rgb.shape[1], rgb.shape[0])
    small = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA) if (w, h) != rgb.shape[1::-1] else rgb
    ok, data = cv2.imencode(".jpg", np.ascontiguousarray(small[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 90])
    response = HttpResponse(data.tobytes(), content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=3600"
    return response


@login_required
def rendered_frame(request, pk, frame):
    """Frame `frame` of the shot's newest finished render, as a proxy-sized JPEG (for the wipe)."""
    shot = get_shot(request.user, pk)
    render_row = shot.latest_render()
    if render_row is None:
        raise Http404("no rendered frame")
    return _frame_jpeg(render_row, frame)


def _finished(pk, user) -> Render:
    render_row = get_for_user(Render.objects.select_related("shot__footage"), user,
                              project_field="shot__project", pk=pk)
    if render_row.status != Render.Status.DONE or render_row.files_removed:
        raise Http404("this render has no frames to show")
    return render_row


@login_required
def render_frame(request, pk, frame):
    """Frame `frame` of render `pk` (finished, files kept), as a proxy-sized JPEG (the player)."""
    return _frame_jpeg(_finished(pk, request.user), frame)


@login_required
def render_player(request, pk):
    """What the render player needs, as JSON:
    {"render", "frames" (count), "rate": [num, den] (frames per second), "width", "height",
     "timecodes": [str per frame], "frameUrl" and "sourceUrl" (with "{frame}" to fill in),
     "previous": {"id", "label", "frameUrl"} or null (the shot's finished render before this
     one whose files are kept), "keyframes": [frame indices], "flagged": [{"frame", "reasons",
     "crossing", "blocks", "strength"}] (the quality check's appearance flags)}.
    404 unless the render is finished and its files kept."""
    render_row = _finished(pk, request.user)
    shot = render_row.shot
    earlier = Q(created__lt=render_row.created) | Q(created=render_row.created, pk__lt=render_row.pk)
    previous = (shot.renders.filter(earlier, status=Render.Status.DONE, files_removed__isnull=True)
                .order_by("-created", "-pk").first())
    appearance = (render_row.qc or {}).get("appearance") or {}
    measures = {f["index"]: f for f in appearance.get("per_frame", [])}
    flagged = [{"frame": index, "reasons": measures.get(index, {}).get("reasons", []),
                **{key: measures.get(index, {}).get(key) for key in ("crossing", "blocks", "strength")}}
               for index in appearance.get("flagged", [])]

    def frame_url(row: Render) -> str:
        return reverse("render-frame", args=[row.pk, 0]).replace("/0.jpg", "/{frame}.jpg")

    return JsonResponse({
        "render": render_row.pk, "frames": shot.frame_count,
        "rate": [shot.footage.frame_rate_num, shot.footage.frame_rate_den],
        "width": shot.width, "height": shot.height,
        "timecodes": [shot.timecode(i) for i in range(shot.frame_count)],
        "frameUrl": frame_url(render_row),
        "sourceUrl": reverse("api:shot-frame", args=[shot.pk, 0]).replace("/0.jpg", "/{frame}.jpg"),
        "previous": previous and {"id": previous.pk, "label": f"render {previous.pk}", "frameUrl": frame_url(previous)},
        "keyframes": sorted(k["frame"] for k in render_row.keyframes),
        "flagged": flagged,
    })


@login_required
def render_progress(request, pk):
    """A render's frame counter, time left and stretch states (Render.frame_progress), as JSON."""
    render_row = get_for_user(Render.objects.prefetch_related("stretches"), request.user,
                              project_field="shot__project", pk=pk)
    return JsonResponse(render_row.frame_progress())
