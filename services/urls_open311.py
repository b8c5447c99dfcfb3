"""Open311 GeoReport v2 under ``/open311/``: discovery, then the API under ``v2/``.

Every path ends in ``.<format>`` (``json`` or ``xml``); another format gets a 404 in the
specification's error format.
"""

from django.urls import path

from services.open311 import views as open311

urlpatterns = [
    path("discovery.<str:fmt>", open311.discovery, name="open311-discovery"),
    path("v2/services.<str:fmt>", open311.service_list, name="open311-services"),
    path(
        "v2/services/<str:service_code>.<str:fmt>",
        open311.service_definition,
        name="open311-service-definition",
    ),
    path("v2/requests.<str:fmt>", open311.requests, name="open311-requests"),
    path(
        "v2/requests/<str:service_request_id>.<str:fmt>",
        open311.request_detail,
        name="open311-request",
    ),
    path("v2/tokens/<str:token>.<str:fmt>", open311.token, name="open311-token"),
]
