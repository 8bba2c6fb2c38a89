"""The historical-accuracy review of keyframes: its steps, pinned comments and notifications."""
from django.conf import settings
from django.db import models


class Review(models.Model):
    """One step of a keyframe's review, bound to the exact hint revision it was about.

    An approval counts only while the keyframe's head is still that revision's content
    (any edit sends the keyframe back to draft). `sources` freezes the cited color
    references as they were when the step was taken, so the report stays true to it.
    """

    class Kind(models.TextChoices):
        SUBMITTED = "submitted"
        APPROVED = "approved"
        CHANGES_REQUESTED = "changes_requested", "Changes requested"

    keyframe = models.ForeignKey("annotations.Keyframe", on_delete=models.CASCADE, related_name="reviews")
    revision = models.ForeignKey("annotations.HintRevision", on_delete=models.CASCADE, related_name="reviews")
    content_hash = models.CharField(max_length=64, db_index=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    comment = models.TextField(blank=True)
    references = models.ManyToManyField("annotations.ColorReference", blank=True, related_name="reviews")
    sources = models.JSONField(default=list, blank=True, help_text="snapshot of the cited references")
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["keyframe_id", "created", "id"]

    def __str__(self):
        return f"{self.keyframe} r{self.revision.number} {self.kind}"


class ReviewComment(models.Model):
    """A remark on a keyframe revision, optionally pinned to a point (x, y in source pixels)."""

    keyframe = models.ForeignKey("annotations.Keyframe", on_delete=models.CASCADE, related_name="review_comments")
    revision = models.ForeignKey("annotations.HintRevision", on_delete=models.CASCADE, related_name="+")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    text = models.TextField()
    x = models.FloatField(null=True, blank=True)
    y = models.FloatField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["keyframe_id", "created", "id"]

    def __str__(self):
        where = f" @({self.x:g},{self.y:g})" if self.x is not None else ""
        return f"{self.author}{where}: {self.text[:40]}"


class Notification(models.Model):
    """Something a member should know (submitted, approved, sent back, render finished)."""

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    project = models.ForeignKey("annotations.Project", on_delete=models.CASCADE, related_name="notifications")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    verb = models.CharField(max_length=64)
    message = models.CharField(max_length=500)
    keyframe = models.ForeignKey("annotations.Keyframe", null=True, blank=True, on_delete=models.CASCADE,
                                 related_name="+")
    shot = models.ForeignKey("annotations.Shot", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    created = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["recipient", "read_at"])]

    def __str__(self):
        return f"to {self.recipient}: {self.message}"
