"""Footage upload, ingest (a batch job) and splitting into shots."""
from __future__ import annotations

import contextlib
import logging
import tempfile
import time
from fractions import Fraction
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.db import transaction

from annotations import events, frames, permissions, storage
from annotations.audit import record
from annotations.errors import Conflict, Invalid, TooLarge
from annotations.models import Footage, Keyframe, Shot
from annotations.permissions import Cap
from colorproj.jobs import TRANSIENT_ERRORS, enqueue
from inference import media
from inference.scenes import SceneDetector, scene_ranges

log = logging.getLogger("annotations.ingest")


def parse_frame_rate(value) -> Fraction:
    """'24000/1001', '25', 23.976 -> Fraction; Invalid otherwise."""
    try:
        rate = Fraction(str(value)).limit_denominator(100000)
    except (ValueError, ZeroDivisionError):
        raise Invalid(f"bad frame rate {value!r}: use e.g. 24, 25 or 24000/1001") from None
    if not 1 <= rate <= 300:
        raise Invalid(f"frame rate {value} is outside 1..300")
    return rate


@contextlib.contextmanager
def _on_disk(uploaded):
    """A path for an uploaded file: the upload's own temporary file, or a streamed copy."""
    if hasattr(uploaded, "temporary_file_path"):
        yield Path(uploaded.temporary_file_path())
        return
    with tempfile.NamedTemporaryFile(suffix=".upload") as copy:
        for chunk in uploaded.chunks():
            copy.write(chunk)
        copy.flush()
        yield Path(copy.name)


def upload_footage(project, actor, uploaded, *, name: str | None = None, frame_rate=None, split: bool = False,
                   start_ingest: bool = True) -> Footage:
    """Check the content is video (or an image-sequence zip), store it untouched, queue the ingest.

    `split`: cut the footage into one shot per detected scene. `start_ingest=False` leaves the
    ingest to the caller (`ingest(footage)`), e.g. to run it in this process.
    """
    permissions.require(actor, project, Cap.MANAGE_FOOTAGE)
    size = uploaded.size or 0
    if size > settings.COLORPROJ_MAX_UPLOAD_BYTES:
        raise TooLarge(f"file is {size} bytes; the limit is {settings.COLORPROJ_MAX_UPLOAD_BYTES} bytes")
    display = (name or uploaded.name or "footage").strip()[:200] or "footage"
    with _on_disk(uploaded) as path:
        try:
            kind = media.sniff(path, max_pixels=settings.COLORPROJ_MAX_FRAME_PIXELS)
        except media.MediaError as exc:
            raise Invalid(f"{display}: {str(exc).split(': ', 1)[-1]}") from None
        except Exception as exc:  # any other failure to read the upload (a bad CRC-32...) is its content's
            log.warning("upload check of %s failed: %r", display, exc)
            raise Invalid(f"{display}: could not be read as a video or an image-sequence zip") from None
        rate = parse_frame_rate(frame_rate) if frame_rate not in (None, "") else settings.COLORPROJ_SEQUENCE_FRAME_RATE
        footage = Footage(project=project, name=display, kind=kind,
                          size_bytes=path.stat().st_size, uploaded_by=actor,
                          frame_rate_num=rate.numerator, frame_rate_den=rate.denominator)
        if hasattr(uploaded, "temporary_file_path"):
            footage.original.save("original", uploaded, save=False)  # file storage moves it: no copy
        else:
            with open(path, "rb") as handle:
                footage.original.save("original", File(handle), save=False)
    try:
        with transaction.atomic():
            footage.save()
            record(project, actor, "footage.uploaded", footage,
                   after={"name": footage.name, "kind": kind, "size_bytes": footage.size_bytes})
            if start_ingest:
                enqueue("annotations.footage.tasks.ingest_footage", footage.pk, split,
                        queue=settings.COLORPROJ_INGEST_QUEUE)
    except Exception:
        footage.original.delete(save=False)
        raise
    return footage


class _Progress:
    """Stores ingest progress on the row and broadcasts it, at most a few times a second."""

    def __init__(self, footage: Footage, total: int):
        self.footage, self.total, self.last = footage, max(total, 1), 0.0

    def __call__(self, done: int, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last < 0.25:
            return
        self.last = now
        value = min(1.0, done / self.total)
        Footage.objects.filter(pk=self.footage.pk).update(progress=value)
        events.send_now([events.project_group(self.footage.project_id)], "footage.progress",
                        {"footage": self.footage.pk, "progress": value, "status": Footage.Status.INGESTING})


def ingest(footage: Footage, *, split: bool = False) -> Footage:
    """Probe the original, write proxies, detect cuts, then create shots in one transaction.

    Runs as a batch job. Safe to run again (a redelivered job): derivatives are rewritten and
    a failure leaves no shot behind, only the footage row with its error.
    """
    if footage.status == Footage.Status.READY:
        return footage
    Footage.objects.filter(pk=footage.pk).update(status=Footage.Status.INGESTING, progress=0.0, error="")
    footage.status = Footage.Status.INGESTING
    storage.delete_tree(footage.derived_dir)
    try:
        with frames.open_footage(footage) as source:
            info = source.info
            footage.width, footage.height = info.width, info.height
            footage.proxy_width, footage.proxy_height = frames.proxy_size(info.width, info.height)
            progress = _Progress(footage, info.frame_count)
            detector = SceneDetector()
            count = 0
            # Frames come reduced to the proxy size as they are decoded (a frame that changes size
            # is refused by the source): memory does not follow the frame size. Cuts are found on
            # the proxies; the detector compares thumbnails far smaller still.
            reduced = source.proxy_frames(footage.proxy_width, footage.proxy_height)
            for count, frame in enumerate(reduced, start=1):
                detector.push(frames.write_proxy(footage, count - 1, frame))
                progress(count)
            if count == 0:
                raise media.MediaError("no frame could be decoded")
        with transaction.atomic():
            row = Footage.objects.select_for_update().get(pk=footage.pk)
            row.codec, row.pix_fmt, row.has_audio = info.codec, info.pix_fmt, info.has_audio
            row.width, row.height, row.frame_count = info.width, info.height, count
            row.proxy_width, row.proxy_height = frames.proxy_size(info.width, info.height)
            if row.kind == Footage.Kind.VIDEO:
                row.frame_rate_num, row.frame_rate_den = info.frame_rate.numerator, info.frame_rate.denominator
            row.start_timecode = _valid_timecode(info.start_timecode, row.frame_rate)
            row.cuts = detector.cuts
            row.facts = _conform_decisions(info)
            row.status, row.progress, row.error = Footage.Status.READY, 1.0, ""
            row.save()
            ranges = scene_ranges(detector.cuts if split else [], count)
            shots = _create_shots(row, ranges)
            record(row.project, row.uploaded_by, "footage.ingested", row,
                   after={"frames": count, "size": f"{info.width}x{info.height}", "codec": info.codec,
                          "frame_rate": str(row.frame_rate), "cuts": detector.cuts,
                          "shots": [s.pk for s in shots]})
        footage.refresh_from_db()
        return footage
    except TRANSIENT_ERRORS:
        raise  # the database is unreachable: the job runs again, from the start, once it is back
    except Exception as exc:
        if isinstance(exc, media.MediaError):
            message = str(exc).replace(str(Path(footage.original.name).name) + ": ", "")
        else:
            log.exception("ingest of footage %s failed", footage.pk)
            message = f"ingest failed ({exc.__class__.__name__}: {exc})"
        fail(footage, message)
        return footage


def _conform_decisions(info: media.VideoInfo) -> dict:
    """The source's facts with what ingest and the deliverables do about each (the manifests
    repeat them)."""
    facts = dict(info.facts)
    decisions = {}
    if facts.get("rotation"):
        decisions["rotation"] = (f"display matrix applied: stored {facts['stored_size']}, turned "
                                 f"{facts['rotation']} degrees counterclockwise to {info.width}x{info.height}")
    if info.width % 2 or info.height % 2:
        decisions["size"] = (f"{info.width}x{info.height} is odd: the PNG sequence keeps it; the MP4 and ProRes "
                             "copies repeat the last column/row to an even size (4:2:0 and 4:2:2 need one)")
    if any(abs(track["start"] - facts.get("video_start", 0)) > 1e-6 for track in facts.get("sound", [])):
        decisions["start_offsets"] = "sound placed by its timestamps against the picture's first frame"
    facts["decisions"] = decisions
    return facts


def _valid_timecode(timecode: str | None, rate: Fraction) -> str:
    """The source's start timecode as it states it (drop-frame or not); none or an unreadable one:
    zero, drop-frame where the rate counts that way (29.97, 59.94)."""
    if timecode:
        try:
            media.timecode_to_frames(timecode, rate)
            return timecode.strip()
        except media.MediaError:
            pass
    return "00:00:00;00" if media.timecode_base(rate)[1] else "00:00:00:00"


def fail(footage: Footage, message: str) -> None:
    """The ingest failed: no shot and no derivative is left, the footage row says why."""
    storage.delete_tree(footage.derived_dir)
    with transaction.atomic():
        Shot.objects.filter(footage=footage).delete()
        Footage.objects.filter(pk=footage.pk).update(status=Footage.Status.FAILED, error=message, progress=0.0)
        footage.status, footage.error = Footage.Status.FAILED, message
        record(footage.project, footage.uploaded_by, "footage.failed", footage, after={"error": message})


def _create_shots(footage: Footage, ranges: list[tuple[int, int]]) -> list[Shot]:
    shots = []
    for number, (first, count) in enumerate(ranges, start=1):
        name = footage.name if len(ranges) == 1 else f"{footage.name} #{number:03d}"
        shot = Shot.objects.create(project=footage.project, footage=footage, name=name, first_frame=first, frame_count=count)
        frames.write_shot_images(shot)
        shot.save(update_fields=["thumbnail", "filmstrip", "filmstrip_frames"])
        shots.append(shot)
    return shots


def _shot_summary(shot: Shot) -> dict:
    return {"name": shot.name, "first_frame": shot.first_frame, "frame_count": shot.frame_count}


@transaction.atomic
def split_footage(footage: Footage, actor, cuts: list[int] | None = None) -> list[Shot]:
    """Replace the footage's shots by one shot per scene, cut at `cuts` (default: the detected cuts).

    Refused once any of its shots has keyframes, so no annotation work is ever moved or lost.
    """
    permissions.require(actor, footage.project_id, Cap.MANAGE_FOOTAGE)
    footage = Footage.objects.select_for_update().get(pk=footage.pk)
    if footage.status != Footage.Status.READY:
        raise Conflict(f"footage is {footage.status}; it can be split once ingested")
    cuts = footage.cuts if cuts is None else cuts
    if not isinstance(cuts, list) or not all(isinstance(c, int) and not isinstance(c, bool) for c in cuts):
        raise Invalid("cuts must be a list of frame numbers")
    bad = [c for c in cuts if not 0 < c < footage.frame_count]
    if bad:
        raise Invalid(f"cuts {bad} are outside 1..{footage.frame_count - 1}")
    old = list(Shot.objects.filter(footage=footage))
    if Keyframe.objects.filter(shot__in=old).exists():
        raise Conflict("these shots already have keyframes; splitting would move annotation work")
    before = [_shot_summary(s) for s in old]
    for shot in old:
        storage.delete_tree(f"{footage.derived_dir}/shots/{shot.pk}")
        shot.delete()
    shots = _create_shots(footage, scene_ranges(sorted(set(cuts)), footage.frame_count))
    record(footage.project, actor, "footage.split", footage, before={"shots": before},
           after={"cuts": sorted(set(cuts)), "shots": [_shot_summary(s) for s in shots]})
    return shots
