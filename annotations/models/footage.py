import uuid
from fractions import Fraction

from django.conf import settings
from django.db import models

from inference.media import frames_to_timecode, is_drop_frame, timecode_to_frames


def original_path(footage, filename):
    # The client's file name is never used on disk (only shown, as `name`).
    return f"footage/{footage.uid}/original"


class Footage(models.Model):
    """An uploaded original (video file or image-sequence zip), kept untouched.

    Ingest derives per-frame proxies under `derived_dir`; shots reference frame ranges of it.
    """

    class Kind(models.TextChoices):
        VIDEO = "video"
        SEQUENCE = "sequence", "Image sequence"

    class Status(models.TextChoices):
        QUEUED = "queued"
        INGESTING = "ingesting"
        READY = "ready"
        FAILED = "failed"

    uid = models.UUIDField(unique=True, editable=False, default=uuid.uuid4)
    project = models.ForeignKey("annotations.Project", on_delete=models.CASCADE, related_name="footage")
    name = models.CharField(max_length=255, help_text="display name (from the upload, never used as a path)")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    original = models.FileField(upload_to=original_path, max_length=255)
    size_bytes = models.BigIntegerField(default=0)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created = models.DateTimeField(auto_now_add=True)

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress = models.FloatField(default=0.0, help_text="0..1 while ingesting")
    error = models.TextField(blank=True)

    # Filled by ingest (from probing the content, not from the name).
    codec = models.CharField(max_length=64, blank=True)
    pix_fmt = models.CharField(max_length=32, blank=True)
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    frame_count = models.PositiveIntegerField(default=0)
    frame_rate_num = models.PositiveIntegerField(default=24)
    frame_rate_den = models.PositiveIntegerField(default=1)
    start_timecode = models.CharField(max_length=16, default="00:00:00:00")
    has_audio = models.BooleanField(default=False)
    proxy_width = models.PositiveIntegerField(default=0)
    proxy_height = models.PositiveIntegerField(default=0)
    cuts = models.JSONField(default=list, blank=True, help_text="detected scene cuts: first frame of each new scene")
    facts = models.JSONField(default=dict, blank=True,
                             help_text="what the source states (rotation, pixel aspect, field order, stream "
                                       "starts, timecode, sound) and how ingest conformed each")

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name_plural = "footage"

    def __str__(self):
        return self.name

    @property
    def frame_rate(self) -> Fraction:
        return Fraction(self.frame_rate_num, self.frame_rate_den)

    def timecode(self, frame: int) -> str:
        """Timecode of footage frame `frame`, counted from the start timecode as the source states
        it: drop-frame (';') or not (':'), SMPTE ST 12-1."""
        origin = timecode_to_frames(self.start_timecode, self.frame_rate)
        return frames_to_timecode(origin + frame, self.frame_rate, drop=is_drop_frame(self.start_timecode))

    @property
    def derived_dir(self) -> str:
        return f"footage/{self.uid}/derived"

    def proxy_name(self, frame: int) -> str:
        """Storage name of the proxy JPEG of footage frame `frame` (0-based)."""
        return f"{self.derived_dir}/proxy/{frame:07d}.jpg"


class Shot(models.Model):
    """A frame range of a piece of footage: what keyframes, reviews and renders are about."""

    class Status(models.TextChoices):
        READY = "ready"            # ingested, no keyframes yet
        ANNOTATING = "annotating"  # has keyframes
        RENDERING = "rendering"
        RENDERED = "rendered"

    project = models.ForeignKey("annotations.Project", on_delete=models.CASCADE, related_name="shots")
    footage = models.ForeignKey(Footage, on_delete=models.CASCADE, related_name="shots")
    name = models.CharField(max_length=255)
    first_frame = models.PositiveIntegerField(help_text="index of the shot's first frame in its footage")
    frame_count = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.READY)
    thumbnail = models.CharField(max_length=255, blank=True, help_text="storage name")
    filmstrip = models.CharField(max_length=255, blank=True, help_text="storage name")
    filmstrip_frames = models.JSONField(default=list, blank=True, help_text="shot frame index of each filmstrip tile")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["footage_id", "first_frame"]

    def __str__(self):
        return self.name

    # Geometry and timing come from the footage: one source of truth.
    @property
    def width(self) -> int:
        return self.footage.width

    @property
    def height(self) -> int:
        return self.footage.height

    @property
    def frame_rate(self) -> Fraction:
        return self.footage.frame_rate

    @property
    def start_timecode(self) -> str:
        return self.timecode(0)

    def timecode(self, index: int) -> str:
        """Timecode of shot frame `index`, drop-frame exactly when the source's timecode is."""
        return self.footage.timecode(self.first_frame + index)

    def footage_frame(self, index: int) -> int:
        if not 0 <= index < self.frame_count:
            raise IndexError(f"frame {index} is outside this shot (0..{self.frame_count - 1})")
        return self.first_frame + index

    def latest_render(self):
        """The newest finished render of this shot whose files are still stored, or None."""
        return self.renders.filter(status="done", files_removed__isnull=True).order_by("-finished", "-pk").first()
