"""URL patterns: urls_ops (included from ioc/urls.py under /ops/devices/)."""

from django.urls import URLPattern, URLResolver, path

from cameras import video_views, views

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.device_list, name="ops-device-list"),
    path("export.csv", views.device_export, name="ops-device-export"),
    path("import/", views.device_import, name="ops-device-import"),
    path("<str:code>/", views.device_detail, name="ops-device-detail"),
    path("<str:code>/snapshot.jpg", views.device_snapshot, name="ops-device-snapshot"),
    path("<str:code>/stream", video_views.device_stream, name="ops-device-stream"),
]
