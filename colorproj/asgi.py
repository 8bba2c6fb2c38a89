"""ASGI entry point: HTTP through Django, websockets through Channels (session-authenticated)."""
import asyncio
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "colorproj.settings")
django_application = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs Django set up)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from annotations import events  # noqa: E402
from colorproj.security import SameOriginValidator  # noqa: E402
from annotations.routing import websocket_urlpatterns  # noqa: E402


class BindServerLoop:
    """Tells annotations.events which loop serves the sockets, so job threads can reach them."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        events.bind_server_loop(asyncio.get_running_loop())
        return await self.app(scope, receive, send)


application = BindServerLoop(
    ProtocolTypeRouter(
        {
            "http": django_application,
            # Handshakes from another site's page are refused before the session is even read.
            "websocket": AllowedHostsOriginValidator(
                SameOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))),
        }
    )
)
