"""In-app notifications: what a member should know (submitted, approved, sent back, an approval
withdrawn by an edit, a render finished). Beside the stages, since several stages notify."""
from __future__ import annotations

from annotations import events
from annotations.models import Keyframe, Notification


def where(keyframe: Keyframe) -> str:
    """How a notification names a keyframe: shot, frame and timecode."""
    return f"{keyframe.shot.name} frame {keyframe.frame} ({keyframe.shot.timecode(keyframe.frame)})"


def notify(project, recipients, actor, verb: str, message: str, *, keyframe=None, shot=None) -> list[Notification]:
    """In-app notifications, and one live event to the project (clients keep what is theirs).

    The actor is never notified of their own action; `message` is cut to 500 characters.
    """
    users = [u for u in {u.pk: u for u in recipients}.values() if not actor or u.pk != actor.pk]
    shot = shot or (keyframe.shot if keyframe else None)
    made = Notification.objects.bulk_create([
        Notification(recipient=u, project=project, actor=actor, verb=verb, message=message[:500],
                     keyframe=keyframe, shot=shot) for u in users])
    if users:
        events.broadcast([events.project_group(project.pk)], "notification", {
            "recipients": [u.username for u in users], "verb": verb, "message": message[:500],
            "keyframe": keyframe.pk if keyframe else None, "shot": shot.pk if shot else None})
    return made
