"""The keyframe editor's websocket: ws/keyframes/<id>/.

Everyone with the keyframe open shares the group `keyframe.<id>`: hint revisions, previews,
presence and cursors reach all of them. Any project member may watch; edits, reverts and
cursors need the EDIT_HINTS capability. Parsing, the access check of every message and the
answers to errors sit in annotations.sockets.StudioSocket.

Client -> server (every message is a JSON object with "type"; "request" is echoed back):
    {"type": "edit", "ops": [...], "request": "r1", "edit_id": "c7-r1"}
                                                      hint ops (annotations.keyframes.actions); an edit
                                                      resent with the same edit_id applies once
    {"type": "revert", "revision": 3}                 make revision 3's hints the newest ones
    {"type": "history"}                               the revision list
    {"type": "suggest", "x": .., "y": .., "request"}  network color suggestions at a source pixel
    {"type": "preview"}                               (re)send or compute the newest preview
    {"type": "region_preview", "x", "y", "width", "height", "request"}
                                                      the head revision at full resolution, cropped to
                                                      that rectangle of source pixels (when zoomed in)
    {"type": "carry", "request"}                      the nearest keyframe's points, followed to this frame
    {"type": "cursor", "x": .., "y": ..}              my cursor, in source pixels (null: left the canvas)
    {"type": "ping"}
Server -> client:
    welcome, ack, hints, preview, preview_failed, region_preview, suggestions, carried, history, presence,
    cursor, conflict, error, unavailable (the database could not be reached: send it again later),
    deleted, pong (see the handlers below for their fields).
"""
from __future__ import annotations

import asyncio
import uuid

from channels.db import database_sync_to_async
from django.http import Http404

from annotations import events
from annotations.errors import ActionError, NotAllowed
from annotations.keyframes import actions as keyframe_actions
from annotations.keyframes import carry, previews
from annotations.keyframes.state import preview_state
from annotations.models import HintRevision, Keyframe
from annotations.permissions import Cap, capabilities, get_keyframe
from annotations.sockets import BadMessage, StudioSocket

CURSOR_TOOLS = ("point", "stroke", "select", "pan")  # the editor's tools (templates/studio/keyframe.html)
PEER_COLORS = ("#4fc3f7", "#f06292", "#aed581", "#ffb74d", "#ba68c8", "#4db6ac", "#e57373", "#fff176")


# --- ORM helpers (run in a worker thread) -------------------------------------------------------

@database_sync_to_async
def open_keyframe(user, keyframe_id: int) -> tuple[Keyframe, frozenset[str]] | None:
    """The keyframe and the user's capabilities in its project; None if the user may not see it."""
    try:
        keyframe = get_keyframe(user, keyframe_id)
    except (Http404, NotAllowed):
        return None
    return keyframe, capabilities(user, keyframe.shot.project_id)


@database_sync_to_async
def apply_ops(keyframe: Keyframe, user, ops, message: str, edit_id: str) -> HintRevision:
    return keyframe_actions.apply_hint_ops(keyframe, user, ops, message=message, edit_id=edit_id)


@database_sync_to_async
def revert_to(keyframe: Keyframe, user, number) -> HintRevision:
    old = HintRevision.objects.filter(keyframe=keyframe, number=number).first()
    if old is None:
        raise ActionError(f"revision {number!r} does not exist")
    return keyframe_actions.save_hints(keyframe, user, old.content, message=f"reverted to revision {number}")


@database_sync_to_async
def head_state(keyframe_id: int) -> dict | None:
    keyframe = Keyframe.objects.select_related("head").filter(pk=keyframe_id).first()
    if keyframe is None:
        return None
    return {"revision": keyframe.head.number, "hints": keyframe.head.content,
            "review_status": keyframe.review_status, "content_hash": keyframe.head.content_hash}


@database_sync_to_async
def revision_list(keyframe_id: int) -> list[dict]:
    rows = HintRevision.objects.filter(keyframe_id=keyframe_id).select_related("author").order_by("-number")[:200]
    return [{"revision": r.number, "author": r.author.username if r.author else None,
             "created": r.created.isoformat(), "message": r.message,
             "points": len(r.content.get("points", [])), "strokes": len(r.content.get("strokes", [])),
             "content_hash": r.content_hash, "hints": r.content} for r in rows]


@database_sync_to_async
def latest_preview(keyframe_id: int, revision: int) -> dict | None:
    """The finished preview of `revision` if there is one; otherwise start computing it."""
    state = preview_state()
    latest = state.latest(keyframe_id)
    if latest is not None and latest[0] > revision:
        # Newer than the head revision: left over from an earlier database that reused this id.
        state.forget(keyframe_id)
        latest = None
    if latest is None or latest[0] < revision:
        previews.request_preview(keyframe_id, revision)
    if latest is None or not latest[1]:
        return None
    number, jpeg, meta = latest
    return previews.preview_message(keyframe_id, number, jpeg, meta)


@database_sync_to_async
def ask_suggestions(keyframe_id, revision, x, y, channel, request):
    previews.request_suggestions(keyframe_id, revision, x, y, channel, request)


@database_sync_to_async
def ask_region_preview(keyframe_id, revision, region, channel, request):
    previews.request_region_preview(keyframe_id, revision, region, channel, request)


@database_sync_to_async
def ask_carried(keyframe_id, channel, request):
    carry.request_carried(keyframe_id, channel, request)


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


class KeyframeEditorConsumer(StudioSocket):
    """One editor (or watcher) of one keyframe."""

    # --- Connection -----------------------------------------------------------------------------

    async def connect(self):
        events.bind_server_loop(asyncio.get_running_loop())  # also when served without colorproj.asgi (tests)
        self.keyframe_id = int(self.scope["url_route"]["kwargs"]["keyframe_id"])
        self.user = self.scope.get("user")
        opened = await open_keyframe(self.user, self.keyframe_id)
        if opened is None:
            await self.close(code=4404)  # not a member, or no such keyframe: nothing leaks
            return
        keyframe, caps = opened
        self.keyframe, self.project_id = keyframe, keyframe.shot.project_id
        self.group = events.keyframe_group(self.keyframe_id)
        self.peer = {"id": uuid.uuid4().hex[:10], "user": self.user.username,
                     "name": self.user.get_full_name() or self.user.username,
                     "color": PEER_COLORS[self.user.pk % len(PEER_COLORS)], "can_edit": Cap.EDIT_HINTS in caps}
        await self.join(self.group)
        await self.accept()
        shot = keyframe.shot
        await self.send_json({
            "type": "welcome", "keyframe": self.keyframe_id, "frame": keyframe.frame, "shot": shot.pk,
            "width": shot.width, "height": shot.height, "revision": keyframe.head.number,
            "hints": keyframe.head.content, "review_status": keyframe.review_status, "you": self.peer,
        })
        await self._announce("join")
        preview = await latest_preview(self.keyframe_id, keyframe.head.number)
        if preview:
            await self.send_json({"type": "preview", **preview})

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self._announce("leave")
        await self.leave()

    async def _announce(self, action: str):
        await self.channel_layer.group_send(self.group, {"type": "studio.presence", "action": action,
                                                         "peer": self.peer, "channel": self.channel_name})

    async def handle(self, content, request):
        kind = content.get("type")
        handler = self.HANDLERS.get(kind) if isinstance(kind, str) else None
        if handler is None:
            raise BadMessage(f"unknown message type {kind!r}; expected one of {', '.join(self.HANDLERS)}")
        try:
            await handler(self, content, request)
        except Keyframe.DoesNotExist:
            await self.send_json({"type": "deleted"})

    async def error(self, message: str, request=None):
        await self.send_json({"type": "error", "message": message, "request": request})

    def _require_edit(self):
        if Cap.EDIT_HINTS not in self.caps:  # read for this message (StudioSocket.receive)
            raise NotAllowed("your role in this project lets you watch this keyframe, not edit it")

    # --- Handlers: one per client message type ----------------------------------------------------

    async def on_edit(self, content, request):
        """Apply hint ops to the newest hints; answers `ack` with the new revision number."""
        self._require_edit()
        ops = content.get("ops")
        if not isinstance(ops, list) or not ops:
            await self.error("'ops' must be a non-empty list of hint operations", request)
            return
        message = content.get("message") if isinstance(content.get("message"), str) else ""
        revision = await apply_ops(self.keyframe, self.user, ops, message, content.get("edit_id") or "")
        await self.send_json({"type": "ack", "request": request, "revision": revision.number})

    async def on_revert(self, content, request):
        """Make an older revision's hints the newest revision (history is never rewritten)."""
        self._require_edit()
        number = content.get("revision")
        if isinstance(number, bool) or not isinstance(number, int):
            await self.error("'revision' must be a revision number", request)
            return
        revision = await revert_to(self.keyframe, self.user, number)
        await self.send_json({"type": "ack", "request": request, "revision": revision.number})

    async def on_history(self, content, request):
        """The keyframe's hint revisions, newest first."""
        await self.send_json({"type": "history", "request": request,
                              "revisions": await revision_list(self.keyframe_id)})

    async def on_suggest(self, content, request):
        """Suggested colors at (x, y) come back later as `suggestions` (from a preview worker)."""
        x, y = content.get("x"), content.get("y")
        if not (_number(x) and _number(y) and 0 <= x < self.keyframe.shot.width and 0 <= y < self.keyframe.shot.height):
            await self.error("'x' and 'y' must be a pixel inside the frame", request)
            return
        state = await head_state(self.keyframe_id)
        if state is None:
            await self.send_json({"type": "deleted"})
            return
        await ask_suggestions(self.keyframe_id, state["revision"], float(x), float(y), self.channel_name,
                              str(request or ""))

    async def on_region_preview(self, content, request):
        """A region of the head revision at full resolution comes back later as `region_preview`
        (from a preview worker): the editor asks for what it shows when zoomed in past the preview."""
        shot = self.keyframe.shot
        box = [content.get(k) for k in ("x", "y", "width", "height")]
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in box):
            await self.error("'x', 'y', 'width' and 'height' must be integers (source pixels)", request)
            return
        x, y, width, height = box
        if not (0 <= x and 0 <= y and width > 0 and height > 0 and x + width <= shot.width and y + height <= shot.height):
            await self.error(f"the region must lie inside the {shot.width}x{shot.height} frame", request)
            return
        if width * height > previews.REGION_MAX_PIXELS:
            await self.error(f"a region holds at most {previews.REGION_MAX_PIXELS} pixels", request)
            return
        state = await head_state(self.keyframe_id)
        if state is None:
            await self.send_json({"type": "deleted"})
            return
        await ask_region_preview(self.keyframe_id, state["revision"], (x, y, width, height), self.channel_name,
                                 str(request or ""))

    async def on_preview(self, content, request):
        """Send the newest finished preview, computing the head revision's if it is missing."""
        state = await head_state(self.keyframe_id)
        if state is None:
            await self.send_json({"type": "deleted"})
            return
        preview = await latest_preview(self.keyframe_id, state["revision"])
        if preview:
            await self.send_json({"type": "preview", **preview})

    async def on_carry(self, content, request):
        """Proposals for this keyframe come back later as `carried`: the points of the shot's nearest
        approved keyframe (else the nearest with points), followed to this frame, less those that
        land on a point it has; `from_frame` None when there is none. Only for those who may edit
        (they are offered to be added)."""
        self._require_edit()
        await ask_carried(self.keyframe_id, self.channel_name, str(request or ""))

    async def on_cursor(self, content, request):
        """Share my cursor with the other editors (not stored): a pixel inside the frame and one
        of the editor's tools, or x = y = null (left the canvas). Only what the schema holds is
        relayed, and only by those who may edit."""
        self._require_edit()
        x, y, tool = content.get("x"), content.get("y"), content.get("tool")
        shot = self.keyframe.shot
        if x is None and y is None:
            tool = None
        elif not (_number(x) and _number(y) and 0 <= x <= shot.width and 0 <= y <= shot.height):
            raise BadMessage(f"cursor 'x' and 'y' must be numbers: a pixel inside the {shot.width}x{shot.height} "
                             "frame, or both null")
        if tool is not None and tool not in CURSOR_TOOLS:
            raise BadMessage(f"cursor 'tool' must be one of {', '.join(CURSOR_TOOLS)}")
        await self.channel_layer.group_send(self.group, {
            "type": "studio.cursor", "peer": self.peer["id"], "x": x if x is None else float(x),
            "y": y if y is None else float(y), "tool": tool})

    async def on_ping(self, content, request):
        await self.send_json({"type": "pong", "request": request})

    HANDLERS = {"edit": on_edit, "revert": on_revert, "history": on_history, "suggest": on_suggest,
                "preview": on_preview, "region_preview": on_region_preview, "carry": on_carry,
                "cursor": on_cursor, "ping": on_ping}

    # --- Channel-layer messages ---------------------------------------------------------------------

    async def studio_event(self, message):
        """Events of annotations.events for this keyframe (hint revisions, previews, deletion)."""
        event, data = message["event"], message["data"]
        if event == "hints.edited":
            await self.send_json({"type": "hints", "revision": data["revision"], "hints": data["hints"],
                                  "ops": data["ops"], "actor": data.get("actor"),
                                  "review_status": data.get("review_status")})
        elif event == "preview.ready":
            await self.send_json({"type": "preview", **data})
        elif event == "preview.failed":
            await self.send_json({"type": "preview_failed", **data})
        elif event == "keyframe.deleted":
            await self.send_json({"type": "deleted"})
            await self.close(code=4410)
        else:
            await self.send_json({"type": "event", "event": event, "data": data})

    async def studio_presence(self, message):
        """Someone joined or left; a joiner also learns from each present peer that it is here."""
        if message["channel"] == self.channel_name:
            return
        await self.send_json({"type": "presence", "action": message["action"], "peer": message["peer"]})
        if message["action"] == "join":
            await self.channel_layer.send(message["channel"], {"type": "studio.presence", "action": "here",
                                                               "peer": self.peer, "channel": self.channel_name})

    async def studio_cursor(self, message):
        if message["peer"] != self.peer["id"]:
            await self.send_json({"type": "cursor", "peer": message["peer"], "x": message["x"], "y": message["y"],
                                  "tool": message.get("tool")})

    async def studio_suggestions(self, message):
        await self.send_json({"type": "suggestions", **{k: v for k, v in message.items() if k != "type"}})

    async def studio_region_preview(self, message):
        await self.send_json({"type": "region_preview", **{k: v for k, v in message.items() if k != "type"}})

    async def studio_carried(self, message):
        await self.send_json({"type": "carried", **{k: v for k, v in message.items() if k != "type"}})
