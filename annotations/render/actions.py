"""Renders: start (approval-gated), the steps the render jobs run, failure and retry.

A render freezes, when it starts, the approved revision of every keyframe, the engine methods
and the queue; the jobs (annotations.render.tasks) only ever read that frozen state, so edits
made meanwhile change nothing and a redelivered job computes exactly the same frames.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from annotations import engines, events, permissions, storage
from annotations.audit import record
from annotations.errors import Conflict, Invalid
from annotations.models import Deliverable, Render, RenderStretch, Shot
from annotations.permissions import Cap
from annotations.render import deliverables, pipeline
from annotations.review import actions as review
from colorproj.jobs import TRANSIENT_ERRORS, enqueue

log = logging.getLogger("annotations.render")
ACTIVE = (Render.Status.QUEUED, Render.Status.PREPARING, Render.Status.RUNNING, Render.Status.JOINING)
MAX_SEQUENCE_START = 9_999_999
JOIN_SHARE = 0.1  # of the progress bar: the stretches take the rest


def _queue(job: str, render: Render, *args) -> None:
    """Queue the render job `job` (of annotations.render.tasks) on the render's own queue
    (distributed mode) once this transaction commits."""
    enqueue(f"annotations.render.tasks.{job}", render.pk, *args, queue=render.queue)


def _groups(render: Render) -> list[str]:
    return [events.shot_group(render.shot_id)]


def _locked(render: Render, *related: str) -> Render:
    """The render's row, locked until the transaction ends; related rows are read once it is granted."""
    Render.objects.select_for_update().filter(pk=render.pk).values_list("pk").get()
    return Render.objects.select_related(*related).get(pk=render.pk)


def _data(render: Render) -> dict:
    """What live clients get with a render's audit events."""
    return {"render": render.pk, "shot": render.shot_id, "status": render.status, "error": render.error,
            "progress": render.progress}


def _frozen_keyframes(shot: Shot) -> list[dict]:
    """The approved revision of every keyframe, with who approved it, when, and on which sources."""
    frozen = []
    for keyframe, approval in review.approved_keyframes(shot):
        revision = approval.revision
        submitted = (keyframe.reviews.filter(kind="submitted", revision=revision).select_related("actor").last())
        frozen.append({
            "keyframe": keyframe.pk, "frame": keyframe.frame, "timecode": shot.timecode(keyframe.frame),
            "revision": revision.number, "content_hash": revision.content_hash, "hints": revision.content,
            "submitted": {"by": getattr(submitted.actor, "username", None), "at": submitted.created.isoformat()}
            if submitted else None,
            "approvals": [{"review": approval.pk, "by": getattr(approval.actor, "username", None),
                           "at": approval.created.isoformat(), "comment": approval.comment,
                           "sources": approval.sources}],
        })
    return frozen


def inputs_hash(shot: Shot, frozen: list[dict], engine_info: dict) -> str:
    data = {"footage": str(shot.footage.uid), "first_frame": shot.first_frame, "frame_count": shot.frame_count,
            "keyframes": [(k["frame"], k["content_hash"]) for k in frozen], "engines": engine_info}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


@transaction.atomic
def start_render(shot: Shot, actor, *, sequence_start: int | None = None) -> Render:
    """Render the shot from its approved keyframes; Conflict unless every keyframe is approved."""
    # Here, not at the top: inference.propagation loads torch, which the web server (it only
    # starts renders) would otherwise hold in memory for nothing.
    from inference.propagation import stretches

    Shot.objects.select_for_update().filter(pk=shot.pk).values_list("pk").get()
    shot = Shot.objects.select_related("project", "footage").get(pk=shot.pk)
    permissions.require(actor, shot.project, Cap.RENDER)
    if sequence_start is None:
        sequence_start = settings.COLORPROJ_SEQUENCE_START
    if isinstance(sequence_start, bool) or not isinstance(sequence_start, int) \
            or not 0 <= sequence_start <= MAX_SEQUENCE_START:
        raise Invalid(f"sequence_start must be a whole number from 0 to {MAX_SEQUENCE_START}")
    if shot.renders.filter(status__in=ACTIVE).exists():
        raise Conflict("this shot is already being rendered; wait for that render to finish")
    frozen = _frozen_keyframes(shot)
    methods = settings.COLORPROJ_RENDER_KEYFRAME_METHOD, settings.COLORPROJ_RENDER_PROPAGATION_METHOD
    engine_info = engines.describe(*methods)
    render = Render.objects.create(
        shot=shot, requested_by=actor, queue=settings.COLORPROJ_RENDER_QUEUE, keyframe_method=methods[0],
        propagation_method=methods[1], sequence_start=sequence_start, keyframes=frozen, engines=engine_info,
        inputs_hash=inputs_hash(shot, frozen, engine_info))
    plan = stretches(shot.frame_count, [k["frame"] for k in frozen])
    RenderStretch.objects.bulk_create([RenderStretch(render=render, index=i, start=start, end=end)
                                       for i, (start, end) in enumerate(plan)])
    Shot.objects.filter(pk=shot.pk).update(status=Shot.Status.RENDERING)
    record(shot.project, actor, "render.started", render, groups=_groups(render), data=_data(render), after={
        "shot": shot.pk, "keyframes": [(k["frame"], k["revision"], k["content_hash"]) for k in frozen],
        "stretches": plan, "methods": list(methods), "inputs_hash": render.inputs_hash})
    _queue("prepare_render", render)
    return render


@transaction.atomic
def retry_render(render: Render, actor) -> Render:
    """Run a failed render again; stretches already done are kept, not recomputed."""
    render = _locked(render, "shot__project")
    permissions.require(actor, render.shot.project, Cap.RENDER)
    if render.status != Render.Status.FAILED:
        raise Conflict(f"only a failed render can be retried; this one is {render.status}")
    if render.files_removed:
        raise Conflict("this render's files were removed to free space; start a new render")
    if render.shot.renders.filter(status__in=ACTIVE).exists():
        raise Conflict("this shot is already being rendered; wait for that render to finish")
    current = {k.pk: k for k in render.shot.keyframes.select_related("head")}
    if set(current) != {entry["keyframe"] for entry in render.keyframes}:
        raise Conflict("keyframes were added or removed since this render started; start a new render")
    for entry in render.keyframes:
        keyframe = current.get(entry["keyframe"])
        approval = review.current_approval(keyframe) if keyframe else None
        if approval is None or approval.content_hash != entry["content_hash"]:
            raise Conflict(f"the keyframe at frame {entry['frame']} changed since this render started; "
                           "start a new render")
    kept = render.stretches.filter(status=RenderStretch.Status.DONE).count()
    render.stretches.exclude(status=RenderStretch.Status.DONE).update(status=RenderStretch.Status.PENDING,
                                                                      frames_done=0)
    before = {"status": render.status, "error": render.error}
    render.status, render.error, render.finished = Render.Status.QUEUED, "", None
    render.save(update_fields=["status", "error", "finished"])
    Shot.objects.filter(pk=render.shot_id).update(status=Shot.Status.RENDERING)
    record(render.shot.project, actor, "render.retried", render, before=before, groups=_groups(render),
           data=_data(render), after={"status": render.status, "stretches_kept": kept})
    _queue("prepare_render", render)
    return render


def resume_interrupted() -> list[int]:
    """Queue again the jobs of every render a stopped server left active (embedded mode, where the
    jobs lived in that server's threads; Celery hands unacknowledged ones out again itself), from
    the step it had reached: its stretches done are kept. The ids of the renders resumed."""
    resumed = []
    for render in Render.objects.filter(status__in=ACTIVE):
        with transaction.atomic():
            render = _locked(render)
            if render.status in (Render.Status.QUEUED, Render.Status.PREPARING):
                _queue("prepare_render", render)
            elif render.status == Render.Status.RUNNING:
                unfinished = render.stretches.exclude(status=RenderStretch.Status.DONE)
                for stretch in unfinished:
                    _queue("render_stretch", render, stretch.index)
                if not unfinished.exists():
                    _to_joining(render)
            elif render.status == Render.Status.JOINING:
                _queue("finalize_render", render)
            else:
                continue
        resumed.append(render.pk)
    if resumed:
        log.info("resumed interrupted renders %s", resumed)
    return resumed


def cancel_render(render: Render, actor) -> Render:
    """Stop a render that is queued or running (e.g. every worker was lost); it can be retried."""
    render = Render.objects.select_related("shot__project").get(pk=render.pk)
    permissions.require(actor, render.shot.project, Cap.RENDER)
    if render.status not in ACTIVE:
        raise Conflict(f"only a queued or running render can be cancelled; this one is {render.status}")
    fail(render, f"cancelled by {actor.username}")
    render.refresh_from_db()
    return render


def remove_files(render: Render, actor) -> int:
    """Delete a finished or failed render's stored files (frames, pictures, deliverables) to free space;
    its row, its deliverables' manifests and the audit trail stay. Returns the bytes freed.
    `actor` None is the retention command (`manage.py prune_renders`)."""
    with transaction.atomic():
        render = _locked(render, "shot__project")
        if actor is not None:
            permissions.require(actor, render.shot.project, Cap.RENDER)
        if render.status in ACTIVE:
            raise Conflict(f"render {render.pk} is {render.status}; cancel it before removing its files")
        files = storage.stored_files(render.storage_dir)
        freed = sum(size for _, size in files)
        if render.files_removed is None:
            render.files_removed = timezone.now()
            render.save(update_fields=["files_removed"])
            record(render.shot.project, actor, "render.files_removed", render, groups=_groups(render),
                   data=_data(render), after={"files": len(files), "bytes": freed})
        # Once committed: a failure then leaves files that a second call removes, never a row
        # whose files are gone while it says they are there.
        transaction.on_commit(lambda: storage.delete_tree(render.storage_dir))
    return freed


# --- Steps run by the render jobs ---------------------------------------------------------------

def _message(exc: Exception) -> str:
    """A reason fit to show: engine and media errors say it themselves."""
    if isinstance(exc, ValueError):
        return str(exc)
    log.exception("render step failed")
    return f"internal error ({exc.__class__.__name__}: {exc})"


def fail(render: Render, reason: str) -> None:
    with transaction.atomic():
        render = _locked(render, "shot__project", "requested_by")
        if render.status in (Render.Status.DONE, Render.Status.FAILED):
            return
        before = render.status
        render.status, render.error, render.finished = Render.Status.FAILED, reason, timezone.now()
        render.save(update_fields=["status", "error", "finished"])
        Shot.objects.filter(pk=render.shot_id, status=Shot.Status.RENDERING).update(status=Shot.Status.ANNOTATING)
        record(render.shot.project, None, "render.failed", render, before={"status": before},
               after={"status": render.status, "error": reason}, groups=_groups(render), data=_data(render))
        if render.requested_by:
            review.notify(render.shot.project, [render.requested_by], None, "render.failed",
                          f"render {render.pk} of {render.shot.name} failed: {reason[:300]}", shot=render.shot)


def _progress_event(render: Render, **data) -> None:
    events.send_now([events.project_group(render.shot.project_id), *_groups(render)], "render.progress",
                    {"render": render.pk, "shot": render.shot_id, **data})


def prepare(render: Render) -> None:
    """Colorize the approved keyframes, then queue one job per stretch not yet done."""
    with transaction.atomic():
        render = _locked(render, "shot__footage", "shot__project")
        if render.status not in (Render.Status.QUEUED, Render.Status.PREPARING):
            return  # a redelivered job for a render already past this step, or failed
        render.status, render.started = Render.Status.PREPARING, render.started or timezone.now()
        render.save(update_fields=["status", "started"])
    _progress_event(render, status=render.status, progress=render.progress)
    try:
        pipeline.colorize_keyframes(render)
    except TRANSIENT_ERRORS:
        raise  # the job runs again once the database is back
    except Exception as exc:
        fail(render, f"keyframe colorization failed: {_message(exc)}")
        return
    with transaction.atomic():
        render = _locked(render, "shot__project")
        if render.status != Render.Status.PREPARING:
            return
        render.status = Render.Status.RUNNING
        render.save(update_fields=["status"])
        for stretch in render.stretches.exclude(status=RenderStretch.Status.DONE):
            _queue("render_stretch", render, stretch.index)
        if not render.stretches.exclude(status=RenderStretch.Status.DONE).exists():
            _to_joining(render)
    _progress_event(render, status=render.status, progress=render.progress)


def _to_joining(render: Render) -> None:
    render.status = Render.Status.JOINING
    render.progress = 1 - JOIN_SHARE
    render.save(update_fields=["status", "progress"])
    _queue("finalize_render", render)


class _StretchProgress:
    """Frames done of a stretch and the render's overall progress, stored and sent a few times a second."""

    def __init__(self, render: Render, stretch: RenderStretch):
        self.render, self.stretch, self.last = render, stretch, 0.0

    def __call__(self, done: int) -> None:
        now = time.monotonic()
        if now - self.last < 0.25 and done < self.stretch.end - self.stretch.start:
            return
        self.last = now
        RenderStretch.objects.filter(pk=self.stretch.pk).update(frames_done=done)
        total = RenderStretch.objects.filter(render=self.render).aggregate(n=Sum("frames_done"))["n"] or 0
        value = round(min(1.0, total / max(self.render.shot.frame_count, 1)) * (1 - JOIN_SHARE), 4)
        Render.objects.filter(pk=self.render.pk, status=Render.Status.RUNNING).update(progress=value)
        _progress_event(self.render, status=Render.Status.RUNNING, progress=value, stretch=self.stretch.index,
                        frames_done=done)


def run_stretch(render: Render, index: int) -> None:
    """Compute one stretch unless it is done already (a redelivered job skips finished work)."""
    with transaction.atomic():
        stretch = RenderStretch.objects.select_for_update().get(render=render, index=index)
        render = Render.objects.select_related("shot__footage", "shot__project").get(pk=render.pk)
        if render.status != Render.Status.RUNNING or stretch.status == RenderStretch.Status.DONE:
            return
        stretch.status, stretch.attempts, stretch.frames_done = RenderStretch.Status.RUNNING, stretch.attempts + 1, 0
        stretch.save(update_fields=["status", "attempts", "frames_done"])
    try:
        digest = pipeline.compute_stretch(render, stretch.start, stretch.end, _StretchProgress(render, stretch))
    except TRANSIENT_ERRORS:
        raise  # the job runs again once the database is back
    except Exception as exc:
        RenderStretch.objects.filter(pk=stretch.pk).update(status=RenderStretch.Status.FAILED)
        fail(render, f"frames {stretch.start}-{stretch.end - 1} failed: {_message(exc)}")
        return
    with transaction.atomic():
        render = _locked(render, "shot__project")
        RenderStretch.objects.filter(pk=stretch.pk).update(
            status=RenderStretch.Status.DONE, sha256=digest, frames_done=stretch.end - stretch.start,
            output=f"{render.storage_dir}/frames", finished=timezone.now())
        if render.status == Render.Status.RUNNING and \
                not render.stretches.exclude(status=RenderStretch.Status.DONE).exists():
            _to_joining(render)


def finalize(render: Render) -> None:
    """Join the stretches, run the quality checks, write the deliverables and their manifests."""
    render = Render.objects.select_related("shot__footage", "shot__project", "requested_by").get(pk=render.pk)
    if render.status != Render.Status.JOINING:
        return

    def progress(done, total):
        value = round(1 - JOIN_SHARE + JOIN_SHARE * done / max(total, 1) * 0.99, 4)
        Render.objects.filter(pk=render.pk).update(progress=value)
        _progress_event(render, status=Render.Status.JOINING, progress=value)

    try:
        output_hash, report, made = deliverables.build(render, progress)
    except TRANSIENT_ERRORS:
        raise  # the job runs again once the database is back
    except Exception as exc:
        fail(render, f"joining and encoding failed: {_message(exc)}")
        return
    with transaction.atomic():
        render = _locked(render, "shot__project", "requested_by")
        if render.status != Render.Status.JOINING:
            transaction.on_commit(lambda: deliverables.discard(made))  # another attempt finished first
            return
        render.output_hash, render.qc = output_hash, report
        render.status, render.progress, render.finished = Render.Status.DONE, 1.0, timezone.now()
        render.save(update_fields=["output_hash", "qc", "status", "progress", "finished"])
        for item in made:
            Deliverable.objects.update_or_create(render=render, kind=item["kind"], defaults={
                "file": item["file"], "filename": item["filename"], "content_type": item["content_type"],
                "size_bytes": item["size_bytes"], "sha256": item["sha256"],
                "manifest": deliverables.manifest(render, item)})
        Shot.objects.filter(pk=render.shot_id).update(status=Shot.Status.RENDERED)
        record(render.shot.project, None, "render.finished", render, groups=_groups(render), data=_data(render), after={
            "status": render.status, "frames_sha256": output_hash, "qc_passed": report["passed"],
            "deliverables": {item["kind"]: item["sha256"] for item in made}})
        if render.requested_by:
            verdict = "passed" if report["passed"] else "FAILED"
            review.notify(render.shot.project, [render.requested_by], None, "render.finished",
                          f"render {render.pk} of {render.shot.name} is ready; quality checks {verdict}",
                          shot=render.shot)
    _progress_event(render, status=render.status, progress=1.0)
