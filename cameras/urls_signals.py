"""URL patterns of traffic-signal commands, included at the URL root (full paths here)."""

from django.urls import URLPattern, URLResolver, path

from cameras import signal_views

urlpatterns: list[URLPattern | URLResolver] = [
    path(
        "api/v1/devices/<str:code>/commands",
        signal_views.DeviceCommandsView.as_view(),
        name="api-device-commands",
    ),
    path(
        "ops/signals/<str:code>/command/",
        signal_views.signal_command_submit,
        name="ops-signal-command",
    ),
]
