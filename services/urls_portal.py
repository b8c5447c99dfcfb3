"""URL map of the public portal: filing, tracking, the public list and map, and the
request photos (MEDIA) a citizen must see."""

from django.conf import settings
from django.urls import URLPattern, path, re_path
from django.views.static import serve

from services import views

urlpatterns: list[URLPattern] = [
    path("", views.portal_home, name="portal-home"),
    path("portal/wards.geojson", views.public_wards_geojson, name="portal-wards-geojson"),
    path("feedback/new/", views.feedback_new, name="portal-feedback-new"),
    path("feedback/sent/<str:code>/", views.feedback_sent, name="portal-feedback-sent"),
    path("feedback/nearby.json", views.nearby_json, name="portal-nearby"),
    path("track/", views.find, name="portal-find"),
    path("track/<str:code>/", views.track, name="portal-track"),
    path("track/<str:code>/rate/", views.track_rate, name="portal-track-rate"),
    path("track/<str:code>/dispute/", views.track_dispute, name="portal-track-dispute"),
    path("requests/", views.request_list, name="portal-requests"),
    path("requests.geojson", views.requests_geojson, name="portal-requests-geojson"),
    # Request photos only (random names, EXIF stripped), from the app in every mode: the
    # reverse proxy may serve MEDIA_ROOT/requests/ itself in front of it.
    re_path(
        r"^media/(?P<path>requests/.+\.jpg)$",
        serve,
        {"document_root": settings.MEDIA_ROOT},
        name="portal-media",
    ),
]
