"""URL patterns of the dashboard data API (included under /api/v1/)."""

from django.urls import URLPattern, URLResolver, path

from dashboards.api import KpisView

urlpatterns: list[URLPattern | URLResolver] = [
    path("kpis", KpisView.as_view(), name="api-kpis"),
]
