"""Staff pages of citizen requests under ``/ops/requests/``."""

from django.urls import path

from services import staff_views

urlpatterns = [
    path("", staff_views.request_queue, name="ops-request-list"),
    path("<str:code>/", staff_views.request_detail, name="ops-request-detail"),
    path("<str:code>/<str:action>/", staff_views.request_action, name="ops-request-action"),
]
