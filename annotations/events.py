"""Live events over the channel layer, sent only after the transaction that caused them commits.

Groups: `project.<id>` (everything in a project) and `keyframe.<id>` (one keyframe's editors).
Consumers receive {"type": "studio.event", "event": "<verb>", "data": {...}}.
"""
from __future__ import annotations

import asyncio
import logging
import threading

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import transaction

log = logging.getLogger("annotations.events")


def project_group(project_id: int) -> str:
    return f"project.{project_id}"


def keyframe_group(keyframe_id: int) -> str:
    return f"keyframe.{keyframe_id}"


def shot_group(shot_id: int) -> str:
    return f"shot.{shot_id}"


_server_loop: asyncio.AbstractEventLoop | None = None


def bind_server_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Remember the ASGI server's event loop (colorproj.asgi does, on every connection).

    The in-memory channel layer (embedded mode) is plain asyncio objects owned by that loop;
    worker threads must hand their sends to it, or the consumers are not woken up promptly.
    """
    global _server_loop
    _server_loop = loop


def send_now(groups: list[str], event: str, data: dict) -> None:
    """Send at once, from any thread (job threads, request threads, Celery workers)."""
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": "studio.event", "event": event, "data": data}
    loop = _server_loop
    handoff = (isinstance(layer, InMemoryChannelLayer) and loop is not None and loop.is_running()
               and not _runs_on(loop))
    for group in groups:
        try:
            if handoff:
                asyncio.run_coroutine_threadsafe(layer.group_send(group, message), loop).result(timeout=5)
            else:
                async_to_sync(layer.group_send)(group, message)
        except Exception:  # a live update is best-effort; the rows are already committed
            log.exception("could not send %s to %s", event, group)


def _runs_on(loop: asyncio.AbstractEventLoop) -> bool:
    return getattr(loop, "_thread_id", None) == threading.get_ident()


def broadcast(groups: list[str], event: str, data: dict) -> None:
    """Send to the groups once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: send_now(groups, event, data))
