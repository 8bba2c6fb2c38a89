"""Where to key a shot: the propagation's carry measured on the shot's proxies, the fewest keyframes
that hold every frame at a confidence level, and each frame's confidence from the keyframes it has
(inference.propagation.plan). The carry is measured once per shot and kept in the cache."""
from __future__ import annotations

from django.conf import settings
from django.core.cache import cache

from annotations import frames
from annotations.models import Shot
from inference.propagation.plan import carry_steps, frame_confidence, plan_keyframes


def shot_carry(shot: Shot):
    """(frame_count - 1,) carry between consecutive frames of the shot (seconds, then cached)."""
    key = f"studio:carry:{shot.pk}:{shot.footage.uid}:{shot.first_frame}:{shot.frame_count}"
    steps = cache.get(key)
    if steps is None:
        steps = carry_steps(frames.read_proxy(shot, index) for index in range(shot.frame_count))
        cache.set(key, steps, 24 * 3600)
    return steps


def keyframe_plan(shot: Shot, level: float | None = None) -> dict:
    """{"level", "suggestions": [{"frame", "reason"}], "confidence": per frame from the shot's
    keyframes (0..1), "planned": per frame with the suggestions added, "rendered": per frame from
    the latest render's propagation (qc.confidence) or None}. ValueError for a level outside (0, 1)."""
    level = settings.COLORPROJ_KEYFRAME_CONFIDENCE if level is None else level
    steps = shot_carry(shot)
    keys = sorted(shot.keyframes.values_list("frame", flat=True))
    plan = plan_keyframes(steps, level, keep=keys)
    planned = frame_confidence(steps, sorted(keys + plan))
    reason = f"holds frames at {level:.0%} or more"
    render = shot.latest_render()
    rendered = ((render.qc or {}).get("confidence") or {}).get("mean_per_frame") if render else None
    return {"level": level, "suggestions": [{"frame": frame, "reason": reason} for frame in plan],
            "confidence": [round(float(c), 3) for c in frame_confidence(steps, keys)],
            "planned": [round(float(c), 3) for c in planned], "rendered": rendered}
