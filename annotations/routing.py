from django.urls import path

from annotations import consumers
from annotations.studio.routing import websocket_urlpatterns as studio_websockets

websocket_urlpatterns = [
    path("ws/projects/<int:project_id>/", consumers.ProjectEventsConsumer.as_asgi()),
    *studio_websockets,
]
