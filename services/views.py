"""The public portal (``/``): open to everyone, never showing personal data."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import cache_control

from ioc import geo, selectors
from ioc.api import ward_feature


def portal_home(request: HttpRequest) -> HttpResponse:
    """The portal's front page: the city and its wards on a map."""
    return render(request, "portal/home.html", {"wards": selectors.public_wards()})


@cache_control(public=True, max_age=300)
def public_wards_geojson(request: HttpRequest) -> JsonResponse:
    """The current wards' boundaries (public administrative data) for the portal's map."""
    rows = selectors.public_wards().values("code", "name", "kind", "boundary")
    return JsonResponse(geo.feature_collection([ward_feature(row) for row in rows]))
