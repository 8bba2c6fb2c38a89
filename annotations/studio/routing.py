from django.urls import path

from annotations.studio.consumers import KeyframeEditorConsumer

websocket_urlpatterns = [
    path("ws/keyframes/<int:keyframe_id>/", KeyframeEditorConsumer.as_asgi()),
]
