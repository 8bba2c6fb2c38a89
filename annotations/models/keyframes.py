import hashlib
import json

from django.conf import settings
from django.db import models

EMPTY_HINTS = {"points": [], "strokes": []}


def content_hash(content: dict) -> str:
    """sha256 of the canonical JSON of a hint set (what approvals are bound to)."""
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class Keyframe(models.Model):
    class ReviewStatus(models.TextChoices):
        DRAFT = "draft"
        SUBMITTED = "submitted"
        APPROVED = "approved"
        CHANGES_REQUESTED = "changes_requested", "Changes requested"

    shot = models.ForeignKey("annotations.Shot", on_delete=models.CASCADE, related_name="keyframes")
    frame = models.PositiveIntegerField(help_text="frame index within the shot (0-based)")
    review_status = models.CharField(max_length=20, choices=ReviewStatus.choices, default=ReviewStatus.DRAFT)
    # The newest hint revision; kept in step by the hint actions under the keyframe's row lock.
    head = models.ForeignKey("HintRevision", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["shot_id", "frame"]
        constraints = [models.UniqueConstraint(fields=["shot", "frame"], name="one_keyframe_per_frame")]

    def __str__(self):
        return f"{self.shot} @ {self.frame}"

    @property
    def project(self):
        return self.shot.project

    @property
    def hints(self) -> dict:
        return self.head.content if self.head else dict(EMPTY_HINTS)

    def revision(self, number: int) -> "HintRevision":
        return self.revisions.get(number=number)


class HintRevision(models.Model):
    """One immutable state of a keyframe's hint set; revisions are only ever appended."""

    keyframe = models.ForeignKey(Keyframe, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created = models.DateTimeField(auto_now_add=True)
    content = models.JSONField(help_text="inference.hints.Hints.to_dict()")
    content_hash = models.CharField(max_length=64, db_index=True)
    message = models.CharField(max_length=500, blank=True)
    ops = models.JSONField(default=list, blank=True, help_text="the edit operations that produced it")
    edit_id = models.CharField(max_length=64, blank=True,
                               help_text="the client's id for the edit: a resent edit applies once")

    class Meta:
        ordering = ["keyframe_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["keyframe", "number"], name="revision_numbers_unique"),
            models.UniqueConstraint(fields=["keyframe", "edit_id"], condition=~models.Q(edit_id=""),
                                    name="revision_edit_ids_unique"),
        ]
        get_latest_by = "number"

    def __str__(self):
        return f"{self.keyframe} r{self.number}"
