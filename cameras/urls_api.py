"""URL patterns: urls_api (included from ioc/urls.py under /api/v1/)."""

from django.urls import URLPattern, URLResolver, path

from cameras import api, reading_api

urlpatterns: list[URLPattern | URLResolver] = [
    path("devices/", api.DeviceListView.as_view(), name="api-devices"),
    path("devices/<str:code>/", api.DeviceDetailView.as_view(), name="api-device-detail"),
    path(
        "devices/<str:code>/readings",
        reading_api.DeviceReadingsView.as_view(),
        name="api-device-readings",
    ),
    path(
        "devices/<str:code>/events",
        reading_api.DeviceEventsView.as_view(),
        name="api-device-events",
    ),
]
