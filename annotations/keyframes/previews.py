"""Live keyframe previews, full-resolution region previews and color suggestions, computed on the
"preview" queue.

The keyframe engine is loaded once per worker process (a thread of the web process in
embedded mode, a Celery worker in distributed mode); each request is a small handler that
loads rows by id, runs the engine at preview size and sends the result to the keyframe's
editors over the channel layer.

Previews travel as base64 JPEG inside the socket message: one message reaches every editor
with no second HTTP round trip (which would add latency and a permission check per
editor), and a 512-px JPEG is a few tens of kilobytes.
"""
from __future__ import annotations

import base64
import contextlib
import logging
import threading
import time

import cv2
import numpy as np
from channels.layers import get_channel_layer
from django.conf import settings

from annotations import engines, events
from annotations.engines import PREVIEW_LONG_SIDE
from annotations.keyframes.state import preview_state
from annotations.models import HintRevision
from colorproj.jobs import TRANSIENT_ERRORS, enqueue
from inference.hints import HintError

log = logging.getLogger("annotations.studio")

JPEG_QUALITY = 85


def engine():
    """The keyframe engine of this process: the one render jobs and review pages use too, so a
    process holds a single copy of the network."""
    try:
        return engines.keyframe_engine("cnn")
    except FileNotFoundError as exc:
        # No trained network here: previews still work with the classical method.
        log.warning("keyframe network weights missing (%s); previews use the classical method", exc)
        return engines.keyframe_engine("levin")


def preview_method(requested: str | None = None) -> str:
    if engine().model is None:
        return "levin"
    return requested or getattr(settings, "COLORPROJ_PREVIEW_METHOD", "cnn")


def render(keyframe, content: dict, method: str | None = None) -> tuple[bytes, dict]:
    """JPEG bytes of the colorized keyframe at preview size for the hint set `content`, and its
    facts; by the network, with "guidance": where the next point would help most (the map as a
    gray PNG data URL, 255 least sure; "next" in source pixels; the likely "colors" there)."""
    method = preview_method(method)
    started = time.monotonic()
    guidance = None
    if method == "cnn":
        rgb, guidance = engines.preview_with_guidance(keyframe.shot, keyframe.frame, content, PREVIEW_LONG_SIDE)
        ok, png = cv2.imencode(".png", guidance["map"])
        guidance["map"] = "data:image/png;base64," + base64.b64encode(png.tobytes()).decode("ascii")
    else:
        rgb = engines.colorize_keyframe(keyframe.shot, keyframe.frame, content, method, long_side=PREVIEW_LONG_SIDE)
    compute_ms = (time.monotonic() - started) * 1000
    ok, data = cv2.imencode(".jpg", np.ascontiguousarray(rgb[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    meta = {"width": rgb.shape[1], "height": rgb.shape[0], "method": method, "compute_ms": round(compute_ms, 1)}
    return data.tobytes(), {**meta, "guidance": guidance} if guidance else meta


def preview_message(keyframe_id: int, revision: int, jpeg: bytes, meta: dict) -> dict:
    return {"keyframe": keyframe_id, "revision": revision,
            "image": "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii"), **meta}


# --- Coalesced preview jobs ---------------------------------------------------------------------

def request_preview(keyframe_id: int, revision: int) -> None:
    """Ask for a preview of `revision` (newer requests supersede older pending ones).

    Best-effort: with Redis unreachable the edit still stands, and the editor asks again when
    its socket reconnects."""
    state = preview_state()
    try:
        state.want(keyframe_id, revision)
        token = state.claim(keyframe_id)
    except Exception as exc:
        log.warning("preview of keyframe %s r%s not requested: %s", keyframe_id, revision, exc)
        return
    if token:
        try:
            enqueue("annotations.keyframes.tasks.render_preview", keyframe_id, token)
        except Exception as exc:
            log.warning("preview of keyframe %s r%s not queued: %s", keyframe_id, revision, exc)
            with contextlib.suppress(Exception):
                state.release(keyframe_id, token)


def render_wanted(keyframe_id: int, token: str) -> None:
    """Render the newest wanted revision while holding the keyframe's lease `token`, until no
    newer revision is wanted; then give the lease up (the preview job's work)."""
    state = preview_state()
    try:
        while True:
            if not state.renew(keyframe_id, token):
                return  # not ours (a redelivered or duplicate job): the owner does the work
            target = state.wanted(keyframe_id)
            if target <= state.done(keyframe_id):
                state.release(keyframe_id, token)
                # An edit that raced with the release could not claim: take its work on.
                if state.wanted(keyframe_id) > state.done(keyframe_id) and (token := state.claim(keyframe_id)):
                    continue
                return
            revision = (HintRevision.objects.select_related("keyframe__shot__footage")
                        .filter(keyframe_id=keyframe_id, number=target).first())
            if revision is None:  # the keyframe was deleted (or the state is left from another database)
                state.forget(keyframe_id)
                return
            try:
                jpeg, meta = render(revision.keyframe, revision.content)
            except Exception as exc:
                log.exception("preview of keyframe %s r%s failed", keyframe_id, target)
                state.finish(keyframe_id, target, b"", {"error": f"preview failed: {exc}"})
                events.send_now([events.keyframe_group(keyframe_id)], "preview.failed",
                           {"keyframe": keyframe_id, "revision": target, "message": f"preview failed: {exc}"})
                continue
            state.finish(keyframe_id, target, jpeg, meta)
            log.info("preview of keyframe %s r%s: %s in %.0f ms", keyframe_id, target, meta["method"], meta["compute_ms"])
            events.send_now([events.keyframe_group(keyframe_id)], "preview.ready",
                            preview_message(keyframe_id, target, jpeg, meta))
    except TRANSIENT_ERRORS:
        raise  # keep the lease: the retried job (same token) carries on once the database is back
    except BaseException:
        state.release(keyframe_id, token)
        raise


# --- Suggested colors -----------------------------------------------------------------------------

def suggest_colors(keyframe_id: int, revision: int, x: float, y: float, reply_channel: str, request: str) -> None:
    """The network's most likely colors at source pixel (x, y), sent to the asking socket only
    (the suggestion job's work)."""
    reply = {"type": "studio.suggestions", "request": request, "x": x, "y": y}
    revision_row = (HintRevision.objects.select_related("keyframe__shot__footage")
                    .filter(keyframe_id=keyframe_id, number=revision).first())
    try:
        if revision_row is None:
            raise LookupError("this keyframe no longer exists")
        keyframe = revision_row.keyframe
        luma, scale = engines.preview_luma(keyframe.shot, keyframe.frame, PREVIEW_LONG_SIDE)
        height, width = luma.shape
        hints = engines.scaled_hints(revision_row.content, scale, width, height)
        px, py = min(max(x * scale, 0), width - 1), min(max(y * scale, 0), height - 1)
        if engine().model is None:
            raise LookupError("color suggestions need the trained keyframe network, which is not installed")
        colors = engine().suggest(luma, hints, px, py, k=6, long_side=PREVIEW_LONG_SIDE)
        reply["colors"] = [{"color": color, "probability": round(float(p), 4)} for color, p in colors]
    except (HintError, LookupError) as exc:
        reply["error"] = str(exc)
    except Exception as exc:
        log.exception("suggestions for keyframe %s failed", keyframe_id)
        reply["error"] = f"suggestions failed: {exc}"
    events.deliver(lambda: get_channel_layer().send(reply_channel, reply))


def request_suggestions(keyframe_id: int, revision: int, x: float, y: float, reply_channel: str, request: str) -> None:
    enqueue("annotations.keyframes.tasks.suggest_colors", keyframe_id, revision, x, y, reply_channel, request)


# --- Region previews at full resolution ---------------------------------------------------------

REGION_MAX_PIXELS = 2048 * 2048  # source pixels of one region: more than a screen shows when zoomed in
REGION_JPEG_QUALITY = 92
_full = threading.local()  # this thread's last full-resolution colorization: panning reuses it


def _full_resolution(revision_row, method: str) -> np.ndarray:
    key = (revision_row.keyframe_id, revision_row.content_hash, method)
    if getattr(_full, "key", None) != key:
        keyframe = revision_row.keyframe
        _full.key, _full.rgb = None, None  # the old frame goes before the new one is made
        _full.rgb = engines.colorize_keyframe(keyframe.shot, keyframe.frame, revision_row.content, method)
        _full.key = key
    return _full.rgb


def region_preview(keyframe_id: int, revision: int, x: int, y: int, width: int, height: int,
                   reply_channel: str, request: str) -> None:
    """Hint revision `revision` colorized at full resolution, as the render will colorize it, cropped
    to the source rectangle (x, y, width, height) (integer source pixels inside the frame), sent as
    `region_preview` {request, revision, x, y, width, height, image (JPEG data URI), method,
    compute_ms} to the asking socket only, or with `error` instead of the image (the region job's work).
    """
    reply = {"type": "studio.region_preview", "request": request, "revision": revision,
             "x": x, "y": y, "width": width, "height": height}
    revision_row = (HintRevision.objects.select_related("keyframe__shot__footage")
                    .filter(keyframe_id=keyframe_id, number=revision).first())
    try:
        if revision_row is None:
            raise LookupError("this revision no longer exists")
        method = preview_method()
        started = time.monotonic()
        crop = _full_resolution(revision_row, method)[y:y + height, x:x + width]
        # Full chroma resolution (4:4:4): a region is for looking at color edges pixel by pixel.
        ok, data = cv2.imencode(".jpg", np.ascontiguousarray(crop[..., ::-1]),
                                [cv2.IMWRITE_JPEG_QUALITY, REGION_JPEG_QUALITY,
                                 cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444])
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        reply.update(image="data:image/jpeg;base64," + base64.b64encode(data.tobytes()).decode("ascii"),
                     method=method, compute_ms=round((time.monotonic() - started) * 1000, 1))
    except (HintError, LookupError) as exc:
        reply["error"] = str(exc)
    except Exception as exc:
        log.exception("region preview of keyframe %s r%s failed", keyframe_id, revision)
        reply["error"] = f"region preview failed: {exc}"
    events.deliver(lambda: get_channel_layer().send(reply_channel, reply))


def request_region_preview(keyframe_id: int, revision: int, region: tuple[int, int, int, int], reply_channel: str,
                           request: str) -> None:
    enqueue("annotations.keyframes.tasks.region_preview", keyframe_id, revision, *region, reply_channel, request)
