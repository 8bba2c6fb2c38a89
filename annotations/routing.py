"""The websockets: a project's live events, and the keyframe editor."""
from django.urls import path

from annotations.keyframes.consumers import KeyframeEditorConsumer
from annotations.projects.consumers import ProjectEventsConsumer

websocket_urlpatterns = [
    path("ws/projects/<int:project_id>/", ProjectEventsConsumer.as_asgi()),
    path("ws/keyframes/<int:keyframe_id>/", KeyframeEditorConsumer.as_asgi()),
]
