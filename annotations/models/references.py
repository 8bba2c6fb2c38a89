import uuid
from django.conf import settings
from django.db import models


class ColorReference(models.Model):
    """A named color of the project's library, with the source that justifies it."""

    class SourceKind(models.TextChoices):
        ARCHIVE = "archive"
        DOCUMENT = "document"
        PHOTOGRAPH = "photograph"
        URL = "url", "Web page"
        CITATION = "citation", "Other citation"

    project = models.ForeignKey("annotations.Project", on_delete=models.CASCADE, related_name="references")
    name = models.CharField(max_length=200)
    color = models.CharField(max_length=7, help_text="#rrggbb, sRGB")
    source_kind = models.CharField(max_length=16, choices=SourceKind.choices, default=SourceKind.CITATION)
    citation = models.TextField(blank=True, help_text="archive and shelfmark, document, photograph, free text")
    url = models.URLField(blank=True)
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project_id", "name", "id"]

    def __str__(self):
        return f"{self.name} {self.color}"


def attachment_path(attachment, filename):
    return f"references/{attachment.reference.project_id}/{attachment.reference_id}/{attachment.uid}"


class ReferenceAttachment(models.Model):
    uid = models.UUIDField(unique=True, editable=False, default=uuid.uuid4)
    reference = models.ForeignKey(ColorReference, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_path, max_length=255)
    name = models.CharField(max_length=255, help_text="display name from the upload")
    content_type = models.CharField(max_length=100, blank=True, help_text="sniffed from the content")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.name
