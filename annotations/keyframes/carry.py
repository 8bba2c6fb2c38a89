"""Points that follow the picture: a keyframe's proposals, carried from the nearest keyframe.

When an annotator opens a keyframe, the editor asks for the color points of the shot's nearest
approved keyframe (or, without one, the nearest keyframe with points), followed to this frame along
the propagation's motion (`inference.propagation.track`). Points whose track is not confident are
left out, and so are those that land on a point this keyframe already has (carried before, or
placed by hand): a keyframe reopened after its neighbour got more points is offered only those.
The proposals go to the asking socket only and are not stored: the annotator accepts them (an
ordinary edit, one revision) or drops them, one by one or all at once.
"""
from __future__ import annotations

import logging

import numpy as np
from channels.layers import get_channel_layer

from annotations import events, frames
from annotations.models import Keyframe
from colorproj.jobs import enqueue
from inference.propagation.track import track_points

log = logging.getLogger("annotations.studio")
MIN_CONFIDENCE = 0.5  # a carried point less sure than this is not proposed


def source_keyframe(keyframe: Keyframe) -> Keyframe | None:
    """The keyframe to carry points from: the nearest approved one with points, else the nearest
    with points (ties: the earlier frame); None when no other keyframe of the shot has points."""
    others = [k for k in Keyframe.objects.filter(shot_id=keyframe.shot_id).exclude(pk=keyframe.pk)
              .select_related("head") if k.hints.get("points")]
    if not others:
        return None
    approved = [k for k in others if k.review_status == Keyframe.ReviewStatus.APPROVED]
    return min(approved or others, key=lambda k: (abs(k.frame - keyframe.frame), k.frame))


def _present(x: float, y: float, radius: int, points: list[dict]) -> bool:
    """Whether a point at (x, y) (source pixels) of this patch radius touches one of `points`."""
    return any(max(abs(p["x"] - x), abs(p["y"] - y)) <= radius + p.get("radius", 0) + 1 for p in points)


def carried_points(keyframe: Keyframe) -> dict:
    """{"from_frame": int | None, "points": [point dict of the hints schema + "confidence"],
    "dropped": how many were not sure enough, "present": how many land on a point this keyframe
    has}. Reads the shot's proxies between the two keyframes."""
    source = source_keyframe(keyframe)
    if source is None:
        return {"from_frame": None, "points": [], "dropped": 0, "present": 0}
    shot = keyframe.shot
    step = 1 if keyframe.frame > source.frame else -1
    # Followed on the proxies, streamed one by one from the source keyframe's frame to this one.
    proxies = (frames.read_proxy(shot, index) for index in range(source.frame, keyframe.frame + step, step))
    points = source.hints["points"]
    factor = np.array([shot.footage.proxy_width / shot.width, shot.footage.proxy_height / shot.height], np.float32)
    xy = np.array([[p["x"], p["y"]] for p in points], np.float32)
    ends, confidence = track_points(proxies, (xy + 0.5) * factor - 0.5)
    ends = (ends + 0.5) / factor - 0.5
    own = keyframe.hints.get("points", [])
    proposals, present = [], 0
    for point, (x, y), sure in zip(points, ends, confidence):
        x, y = round(float(np.clip(x, 0, shot.width - 1)), 1), round(float(np.clip(y, 0, shot.height - 1)), 1)
        if _present(x, y, point.get("radius", 0), own):
            present += 1
        elif sure >= MIN_CONFIDENCE:
            proposals.append({**point, "x": x, "y": y, "confidence": round(float(sure), 3)})
    return {"from_frame": source.frame, "points": proposals, "dropped": len(points) - len(proposals) - present,
            "present": present}


def send_carried(keyframe_id: int, reply_channel: str, request: str) -> None:
    """Compute the keyframe's carried points and answer them to the asking socket (the job's work)."""
    reply = {"type": "studio.carried", "request": request}
    keyframe = Keyframe.objects.select_related("shot__footage", "head").filter(pk=keyframe_id).first()
    try:
        if keyframe is None:
            raise LookupError("this keyframe no longer exists")
        reply.update(carried_points(keyframe))
    except LookupError as exc:
        reply["error"] = str(exc)
    except Exception as exc:
        log.exception("carrying points to keyframe %s failed", keyframe_id)
        reply["error"] = f"carrying points failed: {exc}"
    events.deliver(lambda: get_channel_layer().send(reply_channel, reply))


def request_carried(keyframe_id: int, reply_channel: str, request: str) -> None:
    enqueue("annotations.keyframes.tasks.carry_points", keyframe_id, reply_channel, request)
