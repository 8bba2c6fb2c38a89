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


PROJECT_STATES = {"empty": "No shots yet", "annotating": "Annotating", "in_review": "In review",
                  "approved": "Approved", "rendering": "Rendering", "rendered": "Rendered",
                  "outdated": "Outdated since the last render"}
# How far along a shot is, for the project's summary: the project stands where its least advanced
# shot stands (a shot without keyframes is still to annotate).
_PROGRESS = {"ready": 0, "annotating": 0, "in_review": 1, "approved": 2, "rendered": 3}


def project_state(shot_states: list[tuple[str, str]]) -> tuple[str, str]:
    """(key, label) of where a project stands (PROJECT_STATES), from its shots' `shot_state`s.

    rendering: a shot's render is under way. outdated: some shot was rendered but changed since.
    rendered: every shot rendered from its current keyframes. Otherwise its least advanced shot's
    stage: annotating (also for shots without keyframes), in_review, approved (every shot approved,
    some not rendered yet). empty: no shots.
    """
    keys = [key for key, _label in shot_states]
    if not keys:
        key = "empty"
    elif "rendering" in keys:
        key = "rendering"
    elif "outdated" in keys:
        key = "outdated"
    else:
        key = {0: "annotating", 1: "in_review", 2: "approved", 3: "rendered"}[min(_PROGRESS[k] for k in keys)]
    return key, PROJECT_STATES[key]
