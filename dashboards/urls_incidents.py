"""Incident pages under ``/ops/incidents/``."""

from django.urls import path

from dashboards import incident_views

urlpatterns = [
    path("", incident_views.incident_list, name="ops-incident-list"),
    path("new/", incident_views.incident_new, name="ops-incident-new"),
    path(
        "from-alert/<int:alert_id>/",
        incident_views.incident_from_alert,
        name="ops-incident-from-alert",
    ),
    path("<int:pk>/", incident_views.incident_detail, name="ops-incident-detail"),
    path("<int:pk>/<str:action>/", incident_views.incident_action, name="ops-incident-action"),
]
