"""The project's live-event socket: ws/projects/<id>/."""
from channels.db import database_sync_to_async

from annotations import events
from annotations.permissions import Cap, can
from annotations.sockets import CLOSE_NO_ACCESS, BadMessage, StudioSocket


class ProjectEventsConsumer(StudioSocket):
    """Live events of one project (ingest progress, new shots, keyframe and hint changes).

    Server -> client: {"type": "event", "event": "<verb>", "data": {...}}; errors as
    {"type": "error", "message": ...}. Client -> server: {"type": "ping"} -> {"type": "pong"}.
    Access is re-checked on every message and closed when revoked (annotations.sockets).
    """

    async def connect(self):
        self.project_id = int(self.scope["url_route"]["kwargs"]["project_id"])
        self.user = self.scope.get("user")
        if not await database_sync_to_async(can)(self.user, self.project_id, Cap.VIEW):
            await self.close(code=CLOSE_NO_ACCESS)
            return
        await self.join(events.project_group(self.project_id))
        await self.accept()

    async def handle(self, content, request):
        if content.get("type") != "ping":
            raise BadMessage(f"unknown message type {content.get('type')!r}; expected 'ping'")
        await self.send_json({"type": "pong"})

    async def studio_event(self, message):
        await self.send_json({"type": "event", "event": message["event"], "data": message["data"]})
