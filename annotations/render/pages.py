"""Render pages: a frame of the shot's newest render (the shot page's before/after wipe), and a
render's live progress for the review page."""
from __future__ import annotations

import cv2
import numpy as np
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.http import Http404, HttpResponse, JsonResponse

from annotations import frames
from annotations.models import Render
from annotations.permissions import get_for_user, get_shot
from annotations.render.pipeline import frame_name


@login_required
def rendered_frame(request, pk, frame):
    """Frame `frame` of the shot's newest finished render, as a proxy-sized JPEG (for the wipe)."""
    shot = get_shot(request.user, pk)
    render_row = shot.latest_render()
    if render_row is None or not 0 <= frame < shot.frame_count:
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
def render_progress(request, pk):
    """A render's frame counter, time left and stretch states (Render.frame_progress), as JSON."""
    render_row = get_for_user(Render.objects.prefetch_related("stretches"), request.user,
                              project_field="shot__project", pk=pk)
    return JsonResponse(render_row.frame_progress())
