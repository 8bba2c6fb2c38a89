"""Renders of a shot from its approved keyframes, their stretches and deliverables."""
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class Render(models.Model):
    """One render of a shot. Everything it depends on is frozen on the row when it starts:
    the approved revisions (`keyframes`), the engine methods and the queue, so a retry or a
    second worker computes exactly the same thing."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        PREPARING = "preparing"   # keyframes colorized
        RUNNING = "running"       # stretches propagated
        JOINING = "joining"       # joined, checked, encoded
        DONE = "done"
        FAILED = "failed"

    uid = models.UUIDField(unique=True, editable=False, default=uuid.uuid4)
    shot = models.ForeignKey("annotations.Shot", on_delete=models.CASCADE, related_name="renders")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress = models.FloatField(default=0.0)
    error = models.TextField(blank=True)
    queue = models.CharField(max_length=64, default="batch")
    keyframe_method = models.CharField(max_length=16, default="cnn")
    propagation_method = models.CharField(max_length=16, default="cnn")
    sequence_start = models.PositiveIntegerField(default=1001)
    keyframes = models.JSONField(default=list, help_text="approved revisions and their approvals")
    inputs_hash = models.CharField(max_length=64, blank=True, help_text="sha256 of everything the output depends on")
    engines = models.JSONField(default=dict, blank=True, help_text="engine versions and weights hashes")
    output_hash = models.CharField(max_length=64, blank=True, help_text="sha256 of the joined 16-bit frames")
    qc = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    files_removed = models.DateTimeField(null=True, blank=True,
                                         help_text="when its stored files were deleted to free space (rows stay)")

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self):
        return f"render {self.pk} of {self.shot} ({self.status})"

    @property
    def project(self):
        return self.shot.project

    @property
    def storage_dir(self) -> str:
        return f"renders/{self.uid}"

    def frame_progress(self) -> dict:
        """What the render page shows of a render: frames propagated of all, an estimate of the
        time left (seconds, None until a frame is done), and each stretch's real state:
        {"status", "frames_done", "frames", "seconds_left", "time_left" (words),
         "stretches": [{"start", "end", "state", "label"}]}.
        A stretch not started is "queued" while the keyframes are colorized and "waiting for a
        worker" once the stretches run; the join comes after every stretch is done.
        """
        stretches, done = [], 0
        for s in self.stretches.all():
            frames = s.end - s.start
            count = frames if s.status == RenderStretch.Status.DONE else min(s.frames_done, frames)
            done += count
            state = s.status
            if state == RenderStretch.Status.PENDING:
                state = "waiting" if self.status == Render.Status.RUNNING else \
                    "not run" if self.status == Render.Status.FAILED else "queued"
            label = {"running": f"running, {count}/{frames} frames", "waiting": "waiting for a worker",
                     "done": "done" + (f" (×{s.attempts})" if s.attempts > 1 else "")}.get(state, state)
            stretches.append({"start": s.start, "end": s.end, "state": state, "label": label})
        total = sum(s["end"] - s["start"] for s in stretches)
        seconds_left = None
        if self.status == Render.Status.RUNNING and self.started and 0 < done < total:
            elapsed = (timezone.now() - self.started).total_seconds()
            seconds_left = round(elapsed * (total - done) / done)
        time_left = "" if seconds_left is None else \
            f"about {seconds_left} s left" if seconds_left < 90 else f"about {round(seconds_left / 60)} min left"
        return {"status": self.status, "frames_done": done, "frames": total, "seconds_left": seconds_left,
                "time_left": time_left, "stretches": stretches}


class RenderStretch(models.Model):
    """Frames [start, end) of a render, computed by one job; `done` is its commit point."""

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    render = models.ForeignKey(Render, on_delete=models.CASCADE, related_name="stretches")
    index = models.PositiveIntegerField()
    start = models.PositiveIntegerField()
    end = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    frames_done = models.PositiveIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=0, help_text="times a job started computing it")
    output = models.CharField(max_length=255, blank=True, help_text="storage name of the .npz")
    sha256 = models.CharField(max_length=64, blank=True, help_text="of its frames")
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["render_id", "index"]
        constraints = [models.UniqueConstraint(fields=["render", "index"], name="one_stretch_per_index")]

    def __str__(self):
        return f"{self.render_id}[{self.start}:{self.end}] {self.status}"


class Deliverable(models.Model):
    """A file a producer downloads, with its manifest."""

    class Kind(models.TextChoices):
        REVIEW_MP4 = "mp4", "H.264 MP4 review copy"
        PRORES_MOV = "prores", "ProRes 422 HQ 10-bit MOV"
        PNG_SEQUENCE = "png", "16-bit PNG sequence (zip)"

    render = models.ForeignKey(Render, on_delete=models.CASCADE, related_name="deliverables")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    file = models.CharField(max_length=255, help_text="storage name")
    filename = models.CharField(max_length=255, help_text="offered download name")
    content_type = models.CharField(max_length=100)
    size_bytes = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    manifest = models.JSONField(default=dict)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["render_id", "kind"]
        constraints = [models.UniqueConstraint(fields=["render", "kind"], name="one_deliverable_per_kind")]

    def __str__(self):
        return f"{self.get_kind_display()} of render {self.render_id}"
