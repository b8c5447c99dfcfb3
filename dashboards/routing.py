"""Websocket routes (DESIGN.md: ``ws(s)://<host>/ws/ops/``)."""

from django.urls import path

from dashboards.consumers import OpsConsumer

websocket_urlpatterns = [path("ws/ops/", OpsConsumer.as_asgi())]
