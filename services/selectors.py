"""Reads of citizen services, scoped (house rule 3).

Staff: admins and city operators see every request; a ward official the requests in
their wards; department staff the requests routed to their departments. The public sees
requests without any reporter data (``public_requests``), through the portal and Open311.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from ioc import geo
from ioc.choices import Role
from ioc.models import User
from ioc.realtime.event_types import RequestData
from ioc.selectors import AnyUser, scope_by_ward, wards_named
from ioc.tokens import secret_hash
from services.models import (
    OPEN_STATUSES,
    Open311Key,
    RequestPhoto,
    ServiceCategory,
    ServiceRequest,
)

# The fields a public page or Open311 may read; reporter_* are not among them.
PUBLIC_FIELDS = (
    "id",
    "code",
    "category__code",
    "category__name",
    "description",
    "status",
    "latitude",
    "longitude",
    "address",
    "ward__code",
    "ward__name",
    "department__name",
    "created_at",
    "updated_at",
    "deadline_at",
    "resolved_at",
    "closed_at",
    "rating",
)


# The columns a request's live data is made of (``values()`` names), for reads of many
# requests (the snapshot's and the screens' lists).
REQUEST_DATA_FIELDS = (
    "id",
    "code",
    "category__code",
    "category__name",
    "status",
    "level",
    "latitude",
    "longitude",
    "department__code",
    "deadline_at",
    "created_at",
    "updated_at",
    "rating",
)


def request_data_from_row(row: Mapping[str, Any], now: datetime | None = None) -> RequestData:
    """What live events and screens say of a request, from its ``REQUEST_DATA_FIELDS``: no
    reporter data, ever."""
    return RequestData(
        id=row["id"],
        code=row["code"],
        category=row["category__code"],
        category_name=row["category__name"],
        status=row["status"],
        level=row["level"],
        lat=float(row["latitude"]),
        lon=float(row["longitude"]),
        department=row["department__code"],
        deadline_at=row["deadline_at"],
        overdue=row["status"] in OPEN_STATUSES and row["deadline_at"] < (now or timezone.now()),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        rating=row["rating"],
    )


def request_data(request: ServiceRequest) -> RequestData:
    """What live events say of one request (see ``request_data_from_row``)."""
    return request_data_from_row(
        {
            "id": request.pk,
            "code": request.code,
            "category__code": request.category.code,
            "category__name": request.category.name,
            "status": request.status,
            "level": request.level,
            "latitude": request.latitude,
            "longitude": request.longitude,
            "department__code": request.department.code if request.department else None,
            "deadline_at": request.deadline_at,
            "created_at": request.created_at,
            "updated_at": request.updated_at,
            "rating": request.rating,
        }
    )


def requests_visible_to(user: AnyUser) -> QuerySet[ServiceRequest]:
    """The requests a staff account may see and work, newest first; none for others."""
    requests = ServiceRequest.objects.select_related(
        "ward", "category", "category__group", "department", "assignee"
    ).order_by("-created_at", "-id")
    if not isinstance(user, User) or not user.is_staff_role:
        return requests.none()
    if user.has_city_scope:
        return requests
    if user.role == Role.WARD_OFFICIAL:
        # Their units and the units those came from (closed requests stay with the unit of
        # their time when units are reorganised), as every other scoped read does.
        return scope_by_ward(requests, user)
    if user.role == Role.DEPARTMENT_STAFF:
        return requests.filter(department__in=user.departments.all())
    return requests.none()


def request_get_for_user(user: AnyUser, code: str) -> ServiceRequest:
    """One request by tracking code if ``user`` may see it; DoesNotExist otherwise (404)."""
    return requests_visible_to(user).get(code=code)


def public_requests() -> QuerySet[ServiceRequest]:
    """Requests as the public sees them: not merged away, newest first. Callers read
    ``PUBLIC_FIELDS`` only (``.values(*PUBLIC_FIELDS)``)."""
    return (
        ServiceRequest.objects.filter(merged_into__isnull=True)
        .select_related("ward", "category", "department")
        .order_by("-created_at", "-id")
    )


def public_request_by_code(code: str) -> ServiceRequest:
    """The request behind a tracking code, following merges to the surviving request."""
    request = ServiceRequest.objects.select_related(
        "category", "ward", "department", "merged_into"
    ).get(code=code.strip().upper())
    seen = 0
    while request.merged_into_id is not None and seen < 5:
        request = ServiceRequest.objects.select_related(
            "category", "ward", "department", "merged_into"
        ).get(pk=request.merged_into_id)
        seen += 1
    return request


def reporter_key_matches(code: str, key: str) -> bool:
    """Whether ``key`` is the reporter's key of the request filed under ``code`` (that
    exact request, not the one it was merged into). Requests filed before keys existed
    have none, and nothing matches them."""
    if not key:
        return False
    stored = (
        ServiceRequest.objects.filter(code=code.strip().upper())
        .values_list("reporter_key_hash", flat=True)
        .first()
    )
    return bool(stored) and hmac.compare_digest(stored or "", secret_hash(key))


def public_photos() -> QuerySet[RequestPhoto]:
    """Photos anyone may see: those of requests on the public pages (not merged away)."""
    return RequestPhoto.objects.filter(request__merged_into__isnull=True)


def photo_file_visible_to(user: AnyUser, name: str) -> bool | None:
    """Whether the stored file ``name`` (a photo's display copy or thumbnail, its exact
    name) may be served to ``user``: True when it is public, False when only staff whose
    scope has its request may see it (and ``user`` does), None otherwise (404)."""
    by_name = Q(image=name) | Q(thumbnail=name)
    if public_photos().filter(by_name).exists():
        return True
    staff_may = RequestPhoto.objects.filter(by_name, request__in=requests_visible_to(user))
    return False if staff_may.exists() else None


def categories_for_portal() -> QuerySet[ServiceCategory]:
    """Active categories with their field, in the portal's order."""
    return ServiceCategory.objects.filter(is_active=True).select_related("group")


def nearby_open_requests(
    *, latitude: float, longitude: float, category: ServiceCategory | None, radius_m: float = 300
) -> list[dict[str, Any]]:
    """Open requests near a place (same category if given), public fields only, nearest
    first: the portal's "already reported?" list."""
    rows = public_requests().filter(status__in=OPEN_STATUSES)
    if category is not None:
        rows = rows.filter(category=category)
    nearby = geo.nearest(
        rows.values(*PUBLIC_FIELDS),
        lon=longitude,
        lat=latitude,
        radius_m=radius_m,
        limit=10,
        scan=50,
    )
    return [{**row, "distance_m": round(distance)} for row, distance in nearby]


def request_filters(queryset: QuerySet[ServiceRequest], params: Any) -> QuerySet[ServiceRequest]:
    """The staff queue's filters: status (``open`` = every open status), ward, category,
    department, overdue, search by code or text."""
    status = params.get("status", "open")
    if status == "open":
        queryset = queryset.filter(status__in=OPEN_STATUSES)
    elif status and status != "all":
        queryset = queryset.filter(status=status)
    if ward := params.get("ward"):
        # The unit that code names today (a code may name other land on another day).
        queryset = queryset.filter(ward__in=wards_named(ward))
    for param, field in (("category", "category__code"), ("department", "department__code")):
        if value := params.get(param):
            queryset = queryset.filter(**{field: value})
    if params.get("overdue") == "1":
        queryset = queryset.filter(status__in=OPEN_STATUSES, deadline_at__lt=timezone.now())
    if query := (params.get("q") or "").strip()[:100]:
        queryset = queryset.filter(
            Q(code__iexact=query) | Q(description__icontains=query) | Q(address__icontains=query)
        )
    return queryset


# How far back the rates look (on-time rate, resolution time, satisfaction).
KPI_DAYS = 30


def _kpi_parts(*, filtered: bool) -> tuple[tuple[Q, dict[str, Any]], ...]:
    """The figures both KPI reads compute, as aggregate expressions, in three parts by the
    rows each counts: open now; resolved in the last KPI_DAYS days; rated in them.

    Without ``filtered`` the caller filters each part's rows and runs one query per part:
    each part is then a range of one covering index (``ServiceRequest.Meta.indexes``) and,
    on PostgreSQL, its aggregate reads that index alone (the aggregates read indexed
    columns only: the part's key, never ``id``). With ``filtered`` each aggregate carries
    its part's filter, for one query over the union of the parts (grouped reads)."""
    from datetime import timedelta

    from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F

    now = timezone.now()
    since = now - timedelta(days=KPI_DAYS)
    is_open, recent, rated = (
        Q(status__in=OPEN_STATUSES),
        Q(resolved_at__gte=since),
        Q(rated_at__gte=since),
    )

    def where(rows: Q, condition: Q | None = None) -> Q | None:
        """One aggregate's FILTER: the part's rows (if ``filtered``) and its own condition."""
        if not filtered:
            return condition
        return rows & condition if condition is not None else rows

    resolution = ExpressionWrapper(F("resolved_at") - F("created_at"), output_field=DurationField())
    return (
        (
            is_open,
            {
                "open": Count("deadline_at", filter=where(is_open)),
                "overdue": Count("deadline_at", filter=where(is_open, Q(deadline_at__lt=now))),
            },
        ),
        (
            recent,
            {
                "resolved": Count("resolved_at", filter=where(recent)),
                "on_time": Count(
                    "resolved_at", filter=where(recent, Q(resolved_at__lte=F("deadline_at")))
                ),
                "resolution": Avg(resolution, filter=where(recent)),
            },
        ),
        (
            rated,
            {
                "rating": Avg("rating", filter=where(rated)),
                "rated": Count("rated_at", filter=where(rated)),
            },
        ),
    )


def _kpi_figures(row: Mapping[str, Any]) -> dict[str, Any]:
    """Rates and means from the aggregates of ``_kpi_parts`` (None where nothing counts)."""
    resolved, resolution, rating = row["resolved"], row["resolution"], row["rating"]
    return {
        "open": row["open"],
        "overdue": row["overdue"],
        "resolved": resolved,
        "on_time_pct": round(100.0 * row["on_time"] / resolved, 1) if resolved else None,
        "resolution_hours": round(resolution.total_seconds() / 3600, 1) if resolution else None,
        "satisfaction": round(float(rating), 2) if rating is not None else None,
        "rated": row["rated"],
    }


def request_kpis(user: AnyUser, *, ward: Any = None) -> dict[str, Any]:
    """Requests open and overdue now, and over the last KPI_DAYS days the on-time rate
    (resolved by the deadline), mean resolution time in hours and mean rating (1–5), in
    what ``user`` may see (or one ``ward``): three aggregate queries, one per part of
    ``_kpi_parts`` (each reads one index on PostgreSQL)."""
    requests = requests_visible_to(user).order_by().filter(merged_into__isnull=True)
    if ward is not None:
        requests = requests.filter(ward=ward)
    row: dict[str, Any] = {}
    for rows, measures in _kpi_parts(filtered=False):
        row.update(requests.filter(rows).aggregate(**measures))
    figures = _kpi_figures(row)
    # Named for the dashboard, which shows them as "last 30 days".
    figures["resolved_30d"] = figures.pop("resolved")
    figures["rated_30d"] = figures.pop("rated")
    return figures


def request_unit_kpis(user: AnyUser) -> list[dict[str, Any]]:
    """Per handling unit (department, or the ward when none): the figures of
    ``request_kpis``; one query."""
    from django.db.models.functions import Coalesce

    relevant, measures = Q(), {}
    for rows_counted, part in _kpi_parts(filtered=True):
        relevant |= rows_counted
        measures.update(part)
    rows = (
        requests_visible_to(user)
        .filter(relevant, merged_into__isnull=True)
        .order_by()
        .annotate(unit=Coalesce("department__name", "ward__name"))
        .values("unit")
        .annotate(**measures)
    )
    result = [{"unit": row["unit"], **_kpi_figures(row)} for row in rows]
    return sorted(result, key=lambda unit: (-unit["overdue"], -unit["open"], unit["unit"]))


# --- Open311 ---------------------------------------------------------------------------------

# The fields Open311's GET requests reads (public ones, plus the two annotations below).
OPEN311_FIELDS = (
    "code",
    "category__code",
    "category__name",
    "description",
    "status",
    "latitude",
    "longitude",
    "address",
    "ward__name",
    "ward__kind",
    "department__name",
    "created_at",
    "updated_at",
    "deadline_at",
    "rejection_reason",
    "merged_into__code",
    "status_notes",
    "first_photo",
)


def open311_key_for_secret(key: str) -> Open311Key | None:
    """The active Open311 key whose secret is ``key``, or None (unknown or revoked)."""
    if not key:
        return None
    return Open311Key.objects.filter(key_hash=secret_hash(key), is_active=True).first()


def open311_categories() -> QuerySet[ServiceCategory]:
    """The services Open311 offers: active categories filed on this platform (complaints
    and denunciations follow their own law and are not offered, see open311.py)."""
    return categories_for_portal().filter(legal_process=False)


def open311_requests(*, codes: list[str] | None = None) -> QuerySet[ServiceRequest]:
    """Requests for Open311's GET requests in one query (read ``OPEN311_FIELDS`` only: no
    reporter data). With ``codes``, exactly those, merged ones included; otherwise the
    public list (merged ones left out)."""
    from django.db.models import OuterRef, Subquery

    from services.choices import EntryKind, PhotoKind
    from services.models import RequestEntry, RequestPhoto

    latest_note = (
        RequestEntry.objects.filter(
            request=OuterRef("pk"),
            public=True,
            kind__in=[EntryKind.ANSWER, EntryKind.RESOLVED, EntryKind.REJECTED, EntryKind.REOPENED],
        )
        .exclude(text="")
        .order_by("-at", "-id")
        .values("text")[:1]
    )
    first_photo = (
        RequestPhoto.objects.filter(request=OuterRef("pk"), kind=PhotoKind.REPORT)
        .order_by("created_at", "id")
        .values("image")[:1]
    )
    if codes is not None:
        requests = ServiceRequest.objects.filter(code__in=codes).order_by("-created_at", "-id")
    else:
        requests = public_requests()
    return requests.annotate(status_notes=Subquery(latest_note), first_photo=Subquery(first_photo))
