"""Staff screens under ``/ops/`` (ward scoping comes from the selectors)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cameras import selectors as device_selectors
from cameras.choices import DeviceKind, DeviceStatus
from dashboards.panel_views import panel_labels
from dashboards.selectors import snapshot_parts
from ioc import realtime, selectors
from ioc.access import local_next, staff_required
from ioc.api.actions import alert_act
from ioc.choices import AlertStatus, IncidentStatus, Role, Severity
from ioc.models import Alert, Ward
from ioc.models.incidents import OPEN_STATUSES
from ioc.text import vietnamese_sort_key
from services.choices import RequestStatus


def _ward_rows(
    request: HttpRequest, tally: device_selectors.DeviceTally | None = None
) -> list[dict[str, object]]:
    """The visible wards with their device counts, for the tables (``tally``: the visible
    devices already counted)."""
    counts = (tally or device_selectors.device_tally(request.user)).by_ward()
    rows = []
    wards = sorted(
        selectors.wards_visible_to(request.user), key=lambda w: vietnamese_sort_key(w.name)
    )
    for ward in wards:
        stats = counts.get(ward.pk, {})
        total = stats.get("total", 0)
        online = stats.get("online", 0)
        rows.append(
            {
                "ward": ward,
                # Without one, nothing is placed in the unit by location: the table says so.
                "has_boundary": ward.boundary is not None,
                "total": total,
                "online": online,
                "online_pct": round(100 * online / total) if total else None,
                "cameras": stats.get("cameras", 0),
                "sensors": stats.get("sensors", 0),
                "signals": stats.get("signals", 0),
            }
        )
    return rows


# How many open alerts the page renders before the live channel takes over.
FEED_LENGTH = 50
# How many open incidents a ward's page lists (the incident list has them all).
WARD_INCIDENTS = 50


def _live_labels() -> dict[str, object]:
    """The interface text the dashboard's scripts show, translated on the server."""
    return {
        "live": _("Live"),
        "connecting": _("Connecting…"),
        "reconnecting": _("Reconnecting…"),
        "staleSince": _("Stale since %(time)s"),
        "updatedAgo": _("updated %(age)s ago"),
        "notUpdated": _("not updated live"),
        "history": _("History: this unit is no longer in force, nothing here is live"),
        "seconds": _("%(n)s s"),
        "minutes": _("%(n)s min"),
        "hours": _("%(n)s h"),
        "noAlerts": _("No open alerts."),
        "noMatch": _("No device matches."),
        "lastSeen": _("Last seen"),
        "never": _("never"),
        "openDevice": _("Open the device page"),
        "snapshotAlt": _("Latest image from %(name)s"),
        "close": _("Close"),
        "occurrences": _("×%(n)s"),
        "severity": {value: str(label) for value, label in Severity.choices},
        "alertStatus": {value: str(label) for value, label in AlertStatus.choices},
        "incident": _("Incident"),
        "openIncident": _("Open an incident"),
        "incidentStatus": {value: str(label) for value, label in IncidentStatus.choices},
        "requestStatus": {value: str(label) for value, label in RequestStatus.choices},
    }


def _dashboard_context(
    request: HttpRequest,
    ward: Ward | None = None,
    tally: device_selectors.DeviceTally | None = None,
) -> dict[str, Any]:
    """What the live dashboard template needs, for the city or for one ``ward``."""
    user = request.user
    live = ward is None or ward.in_force()
    # The live channel's own snapshot: the map and feed draw the same data whether or not
    # the websocket connects.
    parts = snapshot_parts(user, ward=ward, tally=tally)
    initial = realtime.json_safe(parts)
    kpis: Any = initial["kpis"]
    return {
        "ward": ward,
        "live_initial": initial,
        "live_labels": _live_labels(),
        "panel_labels": panel_labels(),
        "device_tiles": [
            (kind, label, kpis["devices"][kind]) for kind, label in DeviceKind.choices
        ],
        "alert_tiles": [
            (severity, label, kpis["alerts"][severity])
            for severity, label in reversed(Severity.choices)
        ],
        # The snapshot's newest alerts, with their datetimes (the snapshot is plain JSON).
        "feed_alerts": parts["alerts"][:FEED_LENGTH],
        "incidents_open": kpis["incidents_open"],
        "request_kpis": kpis["requests"],
        "can_handle_incidents": selectors.may_handle_incidents(user),
        "map_embedded": initial["devices_embedded"],
        "device_kinds": DeviceKind.choices,
        "device_statuses": DeviceStatus.choices,
        # A unit no longer in force is history: nothing of it is live, and the live
        # channel, which names a unit by today's code, would show another unit's events.
        "live": live,
        "ws_path": ("/ws/ops/" + (f"?{urlencode({'ward': ward.code})}" if ward else ""))
        if live
        else "",
        "kpis_query": urlencode(_kpis_query(ward, live)),
    }


def _kpis_query(ward: Ward | None, live: bool) -> dict[str, str]:
    """The KPI endpoint's query for a page: its unit, and the unit's day if not today's."""
    if ward is None:
        return {}
    if live:
        return {"ward": ward.code}
    retired = ward.valid_to is not None and ward.valid_to <= timezone.localdate()
    day = ward.valid_to - timedelta(days=1) if retired and ward.valid_to else ward.valid_from
    return {"ward": ward.code, "on": day.isoformat() if day else ""}


@staff_required
def ops_home(request: HttpRequest) -> HttpResponse:
    """The staff landing page: the city at a glance; a one-ward official lands on the ward."""
    user = request.user
    if getattr(user, "role", "") == Role.WARD_OFFICIAL:
        codes = list(selectors.wards_visible_to(user).values_list("code", flat=True)[:2])
        if len(codes) == 1:
            return redirect("ops-ward-detail", code=codes[0])
    tally = device_selectors.device_tally(user)
    rows = _ward_rows(request, tally)
    totals = {
        key: sum(int(row[key]) for row in rows)  # type: ignore[call-overload]
        for key in ("total", "online", "cameras", "sensors", "signals")
    }
    context = _dashboard_context(request, tally=tally)
    context.update(rows=rows, totals=totals, ward_count=len(rows), nav="home")
    return render(request, "ops/home.html", context)


@staff_required
def ward_list(request: HttpRequest) -> HttpResponse:
    """Every ward the user may see, with device counts; ``?q=`` narrows them to those a
    code or name finds, a former unit's finding the units it went into ("Phường Trưng
    Vương (cũ) → Phường Phan Đình Phùng")."""
    rows = _ward_rows(request)
    query = request.GET.get("q", "").strip()[:120]
    if query:
        found = {hit.unit.pk: hit for hit in selectors.wards_found(request.user, query)}
        rows = [
            {**row, "found": found[pk]}
            for row in rows
            if (pk := getattr(row["ward"], "pk", None)) in found
        ]
    return render(request, "ops/ward_list.html", {"rows": rows, "nav": "wards", "query": query})


@staff_required
def ward_detail(request: HttpRequest, code: str) -> HttpResponse:
    """One ward at a glance, live: its map, KPIs, alert feed, open incidents and devices;
    a ward official lands here. The code names today's unit, or with ``?on=YYYY-MM-DD``
    the unit of that day (a former ward, for its history). 404 outside the user's scope."""
    try:
        on = date.fromisoformat(request.GET["on"]) if request.GET.get("on") else None
        ward = selectors.ward_get_for_user(request.user, code, on=on)
    except ValueError as exc:
        raise Http404("No such ward on that day.") from exc
    except Ward.DoesNotExist as exc:
        # A former unit's code (a bookmark, a screen left open) leads to the one unit it
        # went into today.
        went_into = selectors.wards_visible_to(request.user).filter(
            pk__in=selectors.wards_named(code)
        )
        units = list(went_into[:2]) if on is None else []
        if len(units) == 1:
            return redirect("ops-ward-detail", code=units[0].code)
        raise Http404("No such ward on that day.") from exc
    devices = list(
        device_selectors.devices_visible_to(request.user).filter(ward=ward).order_by("kind", "code")
    )
    context = _dashboard_context(request, ward)
    context.update(
        nav="wards",
        devices=devices,
        incidents=list(
            selectors.incidents_visible_to(request.user)
            .filter(ward=ward, status__in=OPEN_STATUSES)
            .annotate(alert_count=Count("alerts"))[:WARD_INCIDENTS]
        ),
    )
    return render(request, "ops/home.html", context)


@staff_required
@require_POST
def alert_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Acknowledge, take (assign to oneself) or resolve an alert from a page, then go back."""
    back = local_next(request, reverse("ops-home"))
    if not selectors.may_handle_alerts(request.user):
        raise PermissionDenied("Department staff see alerts but do not handle them.")
    try:
        alert = selectors.alert_get_for_user(request.user, pk)
    except Alert.DoesNotExist as exc:
        raise Http404("No such alert.") from exc
    try:
        alert_act(request.user, alert, action, request.POST.dict())  # type: ignore[arg-type]
    except ValidationError as exc:
        messages.error(request, " ".join(" ".join(v) for v in exc.message_dict.values()))
    else:
        messages.success(request, _("Alert updated: %(title)s") % {"title": alert.title})
    return redirect(back)
