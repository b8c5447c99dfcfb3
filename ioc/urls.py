"""URL map of the whole platform."""

from csp.decorators import csp_update
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from cameras.api import DeviceGeoJSONView, DeviceMapView, DeviceSearchView
from cameras.ingest_api import IngestEventsView
from cameras.video_views import jwks_view
from dashboards import views as ops_views
from ioc import account_views
from ioc.api import alerts as alerts_api
from ioc.api import incidents as incidents_api
from ioc.api import wards as wards_api

api_v1: list[URLPattern | URLResolver] = [
    path("wards/", wards_api.WardListView.as_view(), name="api-wards"),
    path("wards/<str:code>/", wards_api.WardDetailView.as_view(), name="api-ward-detail"),
    path("wards.geojson", wards_api.WardGeoJSONView.as_view(), name="api-wards-geojson"),
    path("devices.geojson", DeviceGeoJSONView.as_view(), name="api-devices-geojson"),
    path("devices.map", DeviceMapView.as_view(), name="api-devices-map"),
    path("devices.search", DeviceSearchView.as_view(), name="api-devices-search"),
    path("ingest/events", IngestEventsView.as_view(), name="api-ingest-events"),
    path("alerts/", alerts_api.AlertListView.as_view(), name="api-alerts"),
    path("alerts/<int:pk>/", alerts_api.AlertDetailView.as_view(), name="api-alert-detail"),
    path(
        "alerts/<int:pk>/<str:action>",
        alerts_api.AlertActionView.as_view(),
        name="api-alert-action",
    ),
    path("incidents/", incidents_api.IncidentListView.as_view(), name="api-incidents"),
    path(
        "incidents/<int:pk>/",
        incidents_api.IncidentDetailView.as_view(),
        name="api-incident-detail",
    ),
    path(
        "incidents/<int:pk>/<str:action>",
        incidents_api.IncidentActionView.as_view(),
        name="api-incident-action",
    ),
    path("", include("cameras.urls_api")),
    path("", include("dashboards.urls_api")),
]

urlpatterns = [
    path("", include("services.urls_portal")),
    path("ops/", ops_views.ops_home, name="ops-home"),
    path("ops/", include("dashboards.urls_ops")),
    path("ops/wards/", ops_views.ward_list, name="ops-ward-list"),
    path("ops/wards/<str:code>/", ops_views.ward_detail, name="ops-ward-detail"),
    path("ops/devices/", include("cameras.urls_ops")),
    path("ops/incidents/", include("dashboards.urls_incidents")),
    path("ops/requests/", include("services.urls_staff")),
    path("ops/alerts/<int:pk>/<str:action>/", ops_views.alert_action, name="ops-alert-action"),
    # Traffic-signal commands: full paths under /ops/ and /api/v1/ live in that module.
    path("", include("cameras.urls_signals")),
    path("accounts/login/", account_views.StaffLoginView.as_view(), name="login"),
    path(
        "accounts/two-factor/",
        account_views.two_factor_verify_view,
        name="two-factor-verify",
    ),
    path(
        "accounts/two-factor/setup/",
        account_views.two_factor_setup_view,
        name="two-factor-setup",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("open311/", include("services.urls_open311")),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "api/docs/",
        # The split view serves Swagger UI's starter as a script file (script-src 'self');
        # its page keeps a <style> element and Swagger UI writes style attributes.
        csp_update({"style-src": ["'unsafe-inline'"]})(
            SpectacularSwaggerSplitView.as_view(url_name="api-schema")
        ),
        name="api-docs",
    ),
    path("healthz", wards_api.healthz, name="healthz"),
    # The keys live video's stream tokens are signed with (MediaMTX's authJWTJWKS).
    path(".well-known/jwks.json", jwks_view, name="jwks"),
    path("admin/", admin.site.urls),
]

# JSON for the APIs, a page for people; a database outage is a 503 (ioc/errors.py).
handler500 = "ioc.errors.server_error"
handler404 = "ioc.errors.not_found"

admin.site.site_header = "IOC"
admin.site.site_title = "IOC"
