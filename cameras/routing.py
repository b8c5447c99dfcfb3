"""Websocket routes of the cameras app: the video relay (``/video/<path>?jwt=…``, the path a
stream token names).

Under the session middleware only, not the user's: channels' ``AuthMiddleware`` reads the
user from the database before the handshake is answered, and a browser opens one
websocket to a host at a time, so a wall's tiles would wait for each other's reads. The
consumer reads the session's user itself, once the handshake is answered."""

from channels.sessions import SessionMiddlewareStack
from django.urls import path

from cameras.video.consumer import VideoConsumer

websocket_urlpatterns = [
    path(
        "video/cameras/<str:code>/<str:quality>",
        SessionMiddlewareStack(VideoConsumer.as_asgi()),
    ),
]
