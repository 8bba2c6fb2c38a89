"""How actions record what they did (audit row) and tell live clients about it (on-commit event)."""
from __future__ import annotations

from django.db import models

from annotations import events
from annotations.models import AuditEvent


def record(project, actor, verb: str, target: models.Model, *, before=None, after=None,
           groups: list[str] | None = None, data: dict | None = None) -> AuditEvent:
    """Write the audit row and queue the on-commit event `verb` to the project (and `groups`)."""
    event = AuditEvent.objects.create(
        project=project,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        verb=verb,
        target_type=target._meta.model_name,
        target_id=str(target.pk),
        before=before,
        after=after,
    )
    payload = {"target_type": event.target_type, "target_id": target.pk,
               "actor": getattr(actor, "username", None), **(data if data is not None else {"after": after})}
    if project is not None:
        events.broadcast([events.project_group(project.pk), *(groups or [])], verb, payload)
    return event
