"""What every studio websocket shares: the boundary where client messages come in.

Each text message is parsed here, once: anything that is not a JSON object of at most
MAX_MESSAGE_BYTES (an empty frame, a binary frame, broken or too deeply nested JSON) is
answered `{"type": "error", "message", "request"}` and goes no further. Before a message reaches
its handler, the sender's capabilities in the project are read again (membership, role, account
state): a socket whose user lost access is closed, whatever it was opened with. Errors that
handlers raise become answers too (`annotations.errors` -> `error`, `Conflict` -> `conflict`, an
unreachable database -> `unavailable`, anything else -> `error`), so one bad message never closes
the socket with 1011.

Access changes also reach sockets that stay silent: every socket joins `events.user_group`, and a
`studio.access` message there (sent by `events.access_changed`) closes it at once: 4403 when the
user may no longer see the project, 4409 (reconnect: the role changed) when it still may.
"""
from __future__ import annotations

import json
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from annotations import events
from annotations.errors import ActionError, Conflict
from annotations.permissions import Cap, capabilities
from colorproj.jobs import TRANSIENT_ERRORS

log = logging.getLogger("annotations.studio")

MAX_MESSAGE_BYTES = 512 * 1024
CLOSE_NO_ACCESS = 4403
CLOSE_ROLE_CHANGED = 4409


class BadMessage(ActionError):
    """A client message that cannot be handled as sent (answered `error`)."""


@database_sync_to_async
def capabilities_of(user, project_id: int) -> frozenset[str]:
    return capabilities(user, project_id)


def parse_message(text_data: str | None, bytes_data: bytes | None) -> dict:
    """One websocket frame -> the message dict; BadMessage otherwise."""
    if bytes_data is not None:
        raise BadMessage("binary messages are not supported; send JSON text")
    if not text_data:
        raise BadMessage("empty message; send a JSON object with a 'type'")
    if len(text_data) > MAX_MESSAGE_BYTES or len(text_data.encode()) > MAX_MESSAGE_BYTES:
        raise BadMessage(f"message larger than {MAX_MESSAGE_BYTES} bytes")
    try:
        content = json.loads(text_data)
    except Exception:  # any parse failure (syntax, encoding, nesting too deep) is the sender's
        raise BadMessage("the message is not valid JSON; messages must be JSON objects with a 'type'") from None
    if not isinstance(content, dict):
        raise BadMessage("messages must be JSON objects with a 'type'")
    return content


def request_of(content: dict):
    """The client's "request" tag, echoed in answers when it is a string or an integer."""
    request = content.get("request")
    return request if isinstance(request, (str, int)) and not isinstance(request, bool) else None


class StudioSocket(AsyncJsonWebsocketConsumer):
    """Base of the project and keyframe sockets. Subclasses set `self.user` and `self.project_id`
    in connect(), call `join(*groups)`, and implement `handle(content, request)`; `self.caps` is
    the sender's capabilities, read for this very message."""

    joined: tuple[str, ...] = ()
    shut = False

    async def join(self, *groups: str) -> None:
        self.joined = (*groups, events.user_group(self.user.pk))
        for group in self.joined:
            await self.channel_layer.group_add(group, self.channel_name)

    async def leave(self) -> None:
        for group in self.joined:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.joined = ()

    async def disconnect(self, code):
        await self.leave()

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        if self.shut:
            return
        request = None
        try:
            content = parse_message(text_data, bytes_data)
            request = request_of(content)
            self.caps = await capabilities_of(self.user, self.project_id)
            if Cap.VIEW not in self.caps:
                await self.close_for_access(CLOSE_NO_ACCESS)
                return
            await self.handle(content, request)
        except ActionError as exc:
            await self.send_json({"type": "conflict" if isinstance(exc, Conflict) else "error",
                                  "message": exc.message, "request": request})
        except TRANSIENT_ERRORS as exc:
            log.warning("%s: database unreachable (%s)", self.scope["path"], exc)
            await self.send_json({"type": "unavailable", "request": request,
                                  "message": "the database is not reachable right now; send it again in a moment"})
        except Exception:  # never let one bad message kill the socket
            log.exception("%s: a message failed", self.scope["path"])
            await self.send_json({"type": "error", "message": "could not handle the message (server error)",
                                  "request": request})

    async def handle(self, content: dict, request) -> None:
        raise NotImplementedError

    async def send(self, text_data=None, bytes_data=None, close=False):
        if not self.shut:  # nothing more reaches a socket whose access ended
            await super().send(text_data=text_data, bytes_data=bytes_data, close=close)

    async def close_for_access(self, code: int) -> None:
        self.shut = True
        await self.leave()
        await self.close(code=code)

    async def studio_access(self, message):
        """The user's membership, role or account changed (events.access_changed)."""
        if message["project"] not in (None, self.project_id) or self.shut:
            return
        caps = await capabilities_of(self.user, self.project_id)
        await self.close_for_access(CLOSE_ROLE_CHANGED if Cap.VIEW in caps else CLOSE_NO_ACCESS)
