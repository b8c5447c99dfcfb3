"""The public portal (``/``): open to everyone, never showing personal data."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import cache_control

from ioc import geo, selectors
from ioc.api import ward_feature
from ioc.text import vietnamese_sort_key
from services import selectors as request_selectors
from services.models import ServiceRequest


def portal_home(request: HttpRequest) -> HttpResponse:
    """The portal's front page: the city and its wards on a map."""
    wards = sorted(selectors.public_wards(), key=lambda ward: vietnamese_sort_key(ward.name))
    return render(request, "portal/home.html", {"wards": wards})


@cache_control(public=True, max_age=300)
def public_wards_geojson(request: HttpRequest) -> JsonResponse:
    """The current wards' boundaries (public administrative data) for the portal's map."""
    rows = selectors.public_wards().values("code", "name", "kind", "boundary")
    return JsonResponse(geo.feature_collection([ward_feature(row) for row in rows]))


def track(request: HttpRequest, code: str) -> HttpResponse:
    """A request's public page: status, deadline and public timeline, never the reporter's
    data; a merged request's code leads to the request that survived."""
    try:
        found = request_selectors.public_request_by_code(code)
    except ServiceRequest.DoesNotExist as exc:
        raise Http404("No such tracking code.") from exc
    if found.code != code:
        return redirect("portal-track", code=found.code)
    return render(
        request,
        "portal/track.html",
        {
            "item": found,
            "timeline": found.timeline.filter(public=True),
            "photos": found.photos.all(),
        },
    )
