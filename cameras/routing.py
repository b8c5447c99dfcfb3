"""Websocket routes of the cameras app: the video relay (``/video/<path>?jwt=…``, the path a
stream token names)."""

from django.urls import path

from cameras.video.consumer import VideoConsumer

websocket_urlpatterns = [
    path("video/cameras/<str:code>/<str:quality>", VideoConsumer.as_asgi()),
]
