"""Websocket consumers. Each dispatches on the message type; ORM access in database_sync_to_async."""
import json

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from annotations import events
from annotations.permissions import Cap, can


class ProjectEventsConsumer(AsyncJsonWebsocketConsumer):
    """Live events of one project (ingest progress, new shots, keyframe and hint changes).

    Server -> client: {"type": "event", "event": "<verb>", "data": {...}}; errors as
    {"type": "error", "message": ...}. Client -> server: {"type": "ping"} -> {"type": "pong"}.
    """

    async def connect(self):
        self.project_id = int(self.scope["url_route"]["kwargs"]["project_id"])
        user = self.scope.get("user")
        if not await database_sync_to_async(can)(user, self.project_id, Cap.VIEW):
            await self.close(code=4403)
            return
        self.group = events.project_group(self.project_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "ping":
            await self.send_json({"type": "pong"})
        else:
            await self.send_json({"type": "error", "message": f"unknown message type {kind!r}"})

    @classmethod
    async def decode_json(cls, text_data):
        try:
            return json.loads(text_data)
        except (TypeError, ValueError):
            return None  # answered as an error by receive_json, never a crash

    async def studio_event(self, message):
        await self.send_json({"type": "event", "event": message["event"], "data": message["data"]})
