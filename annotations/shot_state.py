"""Where a shot stands, from its keyframes' review and its renders: what the project, shot and
review pages show beside each shot. Beside the stages: several stages' pages show it."""
from __future__ import annotations

from annotations.models import Keyframe, Shot

S = Keyframe.ReviewStatus

SHOT_STATES = {"ready": "No keyframes", "annotating": "Annotating", "in_review": "In review", "approved": "Approved",
               "rendering": "Rendering", "rendered": "Rendered", "outdated": "Outdated since the last render"}
_ACTIVE_RENDER = ("queued", "preparing", "running", "joining")


def shot_state(shot: Shot) -> tuple[str, str]:
    """(key, label) of where the shot stands, from its keyframes and renders (SHOT_STATES).

    rendering: its newest render is under way. rendered: the newest finished render was made
    from exactly the keyframes' current approved content; outdated: a keyframe was added,
    removed or changed since. Otherwise from the keyframes' review: approved (all approved),
    in_review (all submitted or approved), annotating, or ready (no keyframes).
    """
    newest = shot.renders.order_by("-created", "-pk").first()
    if newest is not None and newest.status in _ACTIVE_RENDER:
        return "rendering", SHOT_STATES["rendering"]
    keyframes = list(shot.keyframes.select_related("head"))
    statuses = {k.review_status for k in keyframes}
    rendered = shot.renders.filter(status="done").order_by("-finished", "-pk").first()
    if rendered is not None:
        current = sorted((k.frame, k.head.content_hash) for k in keyframes)
        frozen = sorted((k["frame"], k["content_hash"]) for k in rendered.keyframes)
        key = "rendered" if current == frozen and statuses == {S.APPROVED} else "outdated"
    elif not keyframes:
        key = "ready"
    elif statuses == {S.APPROVED}:
        key = "approved"
    elif statuses <= {S.SUBMITTED, S.APPROVED}:
        key = "in_review"
    else:
        key = "annotating"
    return key, SHOT_STATES[key]
