"""URL map of the public portal: filing, tracking, the public list and map, and the
request photos (MEDIA) a citizen must see."""

from django.urls import URLPattern, path, re_path

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
    path("track/<str:code>/my-data/", views.my_data, name="portal-my-data"),
    path("track/<str:code>/my-data.json", views.my_data_json, name="portal-my-data-json"),
    path("track/<str:code>/my-data/erase/", views.my_data_erase, name="portal-my-data-erase"),
    path("requests/", views.request_list, name="portal-requests"),
    path("requests.geojson", views.requests_geojson, name="portal-requests-geojson"),
    # Request photos, from the app in every mode, each looked up by its stored name (public
    # ones for anyone, the others for staff in scope). MEDIA_ROOT also holds the cameras'
    # snapshots: neither the app nor the reverse proxy serves it as a folder.
    re_path(
        r"^media/(?P<name>requests/[\w/-]+\.jpg)$",
        views.request_photo,
        name="portal-media",
    ),
]
