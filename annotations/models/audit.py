from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """Who did what to which row, when, with the state before and after. Written by actions only."""

    project = models.ForeignKey("annotations.Project", null=True, on_delete=models.CASCADE, related_name="audit_events")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    verb = models.CharField(max_length=64, help_text="e.g. keyframe.added, hints.edited")
    target_type = models.CharField(max_length=64)
    target_id = models.CharField(max_length=64)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    timestamp = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-timestamp", "-id"]
        indexes = [models.Index(fields=["project", "timestamp"]), models.Index(fields=["target_type", "target_id"])]

    def __str__(self):
        return f"{self.timestamp:%Y-%m-%d %H:%M:%S} {self.actor} {self.verb} {self.target_type}:{self.target_id}"
