"""ASGI entry point: Django for HTTP, Channels for the ``/ws/`` websockets and the video
relay's ``/video/`` ones."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ioc.settings")
# Django must be set up before anything imports models (consumers do).
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import re_path  # noqa: E402

from cameras.routing import websocket_urlpatterns as video_routes  # noqa: E402
from dashboards.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            URLRouter(
                [
                    # The relay's routes carry their own session middleware: their consumer
                    # reads the user after the handshake (cameras/routing.py says why).
                    *video_routes,
                    re_path(r"", AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
                ]
            )
        ),
    }
)
