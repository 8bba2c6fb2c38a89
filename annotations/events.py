"""Live events over the channel layer, sent only after the transaction that caused them commits.

Groups: `project.<id>` (everything in a project), `keyframe.<id>` (one keyframe's editors) and
`user.<id>` (every socket of one user). Consumers receive {"type": "studio.event", "event":
"<verb>", "data": {...}}, and {"type": "studio.access", "project": <id> | None} when the user's
access changed (annotations.sockets closes the socket).
"""
from __future__ import annotations

import asyncio
import logging
import threading

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import transaction

from colorproj import jobs

log = logging.getLogger("annotations.events")


def project_group(project_id: int) -> str:
    return f"project.{project_id}"


def keyframe_group(keyframe_id: int) -> str:
    return f"keyframe.{keyframe_id}"


def shot_group(shot_id: int) -> str:
    return f"shot.{shot_id}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


_server_loop: asyncio.AbstractEventLoop | None = None


def bind_server_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Remember the ASGI server's event loop (colorproj.asgi does, on every connection).

    The in-memory channel layer (embedded mode) is plain asyncio objects owned by that loop;
    worker threads must hand their sends to it, or the consumers are not woken up promptly.
    """
    global _server_loop
    _server_loop = loop


def deliver(send) -> None:
    """Run `send()` (a channel-layer coroutine factory) from any thread: job threads, request
    threads, Celery workers. Raises what the send raises."""
    loop = _server_loop
    if isinstance(get_channel_layer(), InMemoryChannelLayer) and loop is not None and loop.is_running() \
            and not _runs_on(loop):
        asyncio.run_coroutine_threadsafe(send(), loop).result(timeout=30)
    else:
        async_to_sync(_await)(send)


async def _await(send) -> None:
    await send()


def _runs_on(loop: asyncio.AbstractEventLoop) -> bool:
    return getattr(loop, "_thread_id", None) == threading.get_ident()


jobs.child_events_to(lambda group, message: deliver(lambda: get_channel_layer().group_send(group, message)))


def send_now(groups: list[str], event: str, data: dict) -> None:
    """Send at once, from any thread."""
    _send(groups, {"type": "studio.event", "event": event, "data": data})


def _send(groups: list[str], message: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    for group in groups:
        try:
            deliver(lambda: layer.group_send(group, message))
        except Exception:  # a live update is best-effort; the rows are already committed
            log.exception("could not send %s to %s", message["type"], group)


def access_changed(user_id: int, project_id: int | None = None) -> None:
    """Once the current transaction commits, close the user's open sockets of `project_id` (None:
    of every project): membership, role or account changed, and sockets check access only on
    each message they receive."""
    transaction.on_commit(lambda: _send([user_group(user_id)], {"type": "studio.access", "project": project_id}))


def broadcast(groups: list[str], event: str, data: dict) -> None:
    """Send to the groups once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: send_now(groups, event, data))
