"""The public portal (``/``): open to everyone, never showing personal data."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import cache_control

from ioc import geo, selectors
from ioc.api import ward_feature
from ioc.text import vietnamese_sort_key


def portal_home(request: HttpRequest) -> HttpResponse:
    """The portal's front page: the city and its wards on a map."""
    wards = sorted(selectors.public_wards(), key=lambda ward: vietnamese_sort_key(ward.name))
    return render(request, "portal/home.html", {"wards": wards})


@cache_control(public=True, max_age=300)
def public_wards_geojson(request: HttpRequest) -> JsonResponse:
    """The current wards' boundaries (public administrative data) for the portal's map."""
    rows = selectors.public_wards().values("code", "name", "kind", "boundary")
    return JsonResponse(geo.feature_collection([ward_feature(row) for row in rows]))
