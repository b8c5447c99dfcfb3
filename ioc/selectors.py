"""Reads of the core, with ward scoping written once (house rule 3).

Who sees what:
- admin and city operator: every ward;
- department staff: every ward, read only (their request queue is scoped by department);
- ward official: only their own wards, and the units those came from (their history:
  the closed cases of a ward merged into theirs); anything else does not exist for them
  (404);
- anyone else: nothing.

A code names a unit on a day (the 2025 reform gave old codes to new units): every read by
code resolves it on a date, today unless the caller says otherwise (``ward_in_force``).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.db.models import Exists, Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from ioc import geo
from ioc.choices import AlertStatus, Role
from ioc.models import (
    Alert,
    Department,
    Incident,
    IncidentChecklistItem,
    IncidentEntry,
    User,
    Ward,
    WardSuccession,
)
from ioc.realtime import (
    CITY_GROUP,
    REQUESTS_GROUP,
    department_group,
    event_types,
    ward_group,
    ward_requests_group,
)
from ioc.text import vietnamese_sort_key

AnyUser = User | AnonymousUser


def _staff(user: AnyUser) -> User | None:
    """The staff account behind ``user``, or None for anonymous and role-less accounts."""
    if isinstance(user, User) and user.is_staff_role:
        return user
    return None


def sees_whole_city(user: AnyUser) -> bool:
    """Whether ward scoping does not restrict this user."""
    staff = _staff(user)
    return staff is not None and (staff.has_city_scope or staff.role == Role.DEPARTMENT_STAFF)


# How many reorganisations back an official's history reaches (the 2025 reform is one).
HISTORY_DEPTH = 4


def visible_ward_ids(user: AnyUser) -> QuerySet[Ward] | None:
    """The units a scoped user may see, as a lazy queryset usable in ``ward__in``: their
    own and the units those came from, up to ``HISTORY_DEPTH`` reorganisations back (one
    subquery, no query of its own); None = all."""
    if sees_whole_city(user):
        return None
    staff = _staff(user)
    if staff is None:
        return Ward.objects.none()
    level: QuerySet[Any] = staff.wards.values("pk")
    reach = Q(pk__in=level)
    for _ in range(HISTORY_DEPTH):
        level = WardSuccession.objects.filter(successor__in=level).values("predecessor")
        reach |= Q(pk__in=level)
    return Ward.objects.filter(reach)


def ward_in_force(code: str, on: date | None = None) -> Ward:
    """The unit ``code`` names on ``on`` (default today); Ward.DoesNotExist if none."""
    return Ward.objects.current(on).get(code=code)


def wards_named(code: str, on: date | None = None) -> QuerySet[Ward]:
    """The unit ``code`` names on ``on`` (default today) as a queryset, for filters:
    ``records.filter(ward__in=wards_named(code))``. A code that no unit bears that day but
    a former unit bore names the units in force that the former unit went into (a filter
    by an old code finds the new unit); empty if none. One lazy query."""
    day = on or timezone.localdate()
    current = Ward.objects.current(day)
    named = current.filter(code=code)
    former = Ward.objects.filter(code=code, valid_to__lte=day).values("pk")
    return current.filter(Q(code=code) | (_successors_reach(former) & ~Exists(named)))


def _successors_reach(units: QuerySet[Any]) -> Q:
    """Units went into, up to ``HISTORY_DEPTH`` reorganisations after ``units`` (a
    ``values("pk")`` queryset), as a filter of subqueries."""
    level: QuerySet[Any] = WardSuccession.objects.filter(predecessor__in=units).values("successor")
    reach = Q(pk__in=level)
    for _ in range(HISTORY_DEPTH - 1):
        level = WardSuccession.objects.filter(predecessor__in=level).values("successor")
        reach |= Q(pk__in=level)
    return reach


@dataclass(frozen=True)
class WardFound:
    """A unit a search found: by its own code or name, or through a ``former`` unit whose
    code or name was searched (the former went into it)."""

    unit: Ward
    former: Ward | None = None

    @property
    def label(self) -> str:
        """ "Phường Trưng Vương (cũ) → Phường Phan Đình Phùng", or the unit's title."""
        if self.former is None:
            return self.unit.title
        return gettext("%(former)s (former) → %(unit)s") % {
            "former": self.former.title,
            "unit": self.unit.title,
        }


_KIND_WORDS = ("phuong ", "xa ", "dac khu ", "thi tran ", "ward ", "commune ", "special zone ")


def _folded(text: str) -> str:
    """Text as a ward search compares it: lower case, without Vietnamese marks or a
    leading kind ("Phường Trưng Vương" and "trung vuong" compare equal)."""
    plain = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(char for char in plain if not unicodedata.combining(char))
    plain = " ".join(plain.casefold().split())
    for word in _KIND_WORDS:
        if plain.startswith(word):
            return plain[len(word) :]
    return plain


def wards_found(
    user: AnyUser | None, text: str, *, on: date | None = None, limit: int = 20
) -> list[WardFound]:
    """The units in force on ``on`` (default today) that ``user`` may see (None: the
    public, who see every unit's name) and ``text`` finds: by code or part of the name,
    with or without marks; a former unit's code or name finds the units it went into (the
    2025 reform: "Trưng Vương" finds Phường Phan Đình Phùng). Units found by their own code
    or name come first."""
    wanted = _folded(text.strip()[:120])
    if not wanted:
        return []
    day = on or timezone.localdate()
    rows = Ward.objects.values_list("pk", "code", "name", "valid_from", "valid_to")
    matched = [
        pk
        for pk, code, name, _start, _end in rows
        if code == text.strip() or wanted in _folded(name)
    ]
    units = {ward.pk: ward for ward in Ward.objects.filter(pk__in=matched)}
    scope = Ward.objects.current(day) if user is None else wards_visible_to(user, on=day)
    visible = set(scope.values_list("pk", flat=True))
    found: dict[int, WardFound] = {}
    for ward in units.values():
        if ward.in_force(day) and ward.pk in visible:
            found[ward.pk] = WardFound(ward)
    formers = [w for w in units.values() if w.valid_to is not None and w.valid_to <= day]
    for former, unit in _went_into(formers, day):
        if unit.pk in visible and unit.pk not in found:
            found[unit.pk] = WardFound(unit, former)
    ordered = sorted(
        found.values(),
        key=lambda hit: (hit.former is not None, vietnamese_sort_key(hit.unit.name)),
    )
    return ordered[:limit]


def _went_into(formers: list[Ward], day: date) -> list[tuple[Ward, Ward]]:
    """(former unit, unit in force on ``day`` it went into), following successions up to
    ``HISTORY_DEPTH`` reorganisations."""
    pairs: list[tuple[Ward, Ward]] = []
    frontier = {ward.pk: ward for ward in formers}  # unit reached -> the former it came from
    for _ in range(HISTORY_DEPTH):
        if not frontier:
            break
        edges = WardSuccession.objects.filter(predecessor__in=list(frontier)).select_related(
            "successor"
        )
        reached: dict[int, Ward] = {}
        for edge in edges:
            origin = frontier[edge.predecessor_id]
            if edge.successor.in_force(day):
                pairs.append((origin, edge.successor))
            else:
                reached[edge.successor_id] = origin
        frontier = reached
    return sorted(pairs, key=lambda pair: (pair[0].code, pair[1].code))


def ward_followed_for_user(user: AnyUser, ward: Ward) -> Ward | None:
    """The unit a screen of ``ward`` shows after a reorganisation: the same unit while it
    is in force, else the one unit it went into; None when there is none the user may see
    or several (a split)."""
    visible = wards_visible_to(user)
    if visible.filter(pk=ward.pk).exists():
        return visible.get(pk=ward.pk)
    units = list(
        visible.filter(
            pk__in=[unit.pk for _former, unit in _went_into([ward], timezone.localdate())]
        )
    )
    return units[0] if len(units) == 1 else None


def scope_by_ward(
    queryset: QuerySet[Any], user: AnyUser, ward_field: str = "ward"
) -> QuerySet[Any]:
    """Restrict any queryset with a ward foreign key to what ``user`` may see."""
    if _staff(user) is None:
        return queryset.none()
    wards = visible_ward_ids(user)
    if wards is None:
        return queryset
    return queryset.filter(**{f"{ward_field}__in": wards})


def wards_visible_to(
    user: AnyUser, *, on: date | None = None, include_retired: bool = False
) -> QuerySet[Ward]:
    """The units ``user`` may see: those in force on ``on`` (default today), or every unit
    of any time with ``include_retired``."""
    wards = Ward.objects.all() if include_retired else Ward.objects.current(on)
    if _staff(user) is None:
        return wards.none()
    scope = visible_ward_ids(user)
    return wards if scope is None else wards.filter(pk__in=scope)


def ward_get_for_user(user: AnyUser, code: str, on: date | None = None) -> Ward:
    """The unit ``code`` names on ``on`` (default today) if ``user`` may see it.

    Raises Ward.DoesNotExist otherwise, so that views answer 404 and never reveal
    that another ward's object exists.
    """
    return wards_visible_to(user, on=on).get(code=code)


def realtime_groups_for(user: AnyUser, *, ward_code: str | None = None) -> list[str]:
    """The channel-layer groups a websocket of ``user`` may join: those whose events the
    user's snapshot holds (``ioc.realtime.events.event_groups`` says which go where).

    - admin and city operator: ``city`` and ``requests``;
    - department staff: ``city`` (devices, alerts and incidents, read only) and the groups
      of their departments' requests, never every request of the city;
    - ward official: each of their wards' group and requests group.

    With ``ward_code`` (a ward's screen) the same narrowed to that ward, and none if the
    user may not see it.
    """
    staff = _staff(user)
    if staff is None:
        return []
    departments: list[str] = []
    if staff.role == Role.DEPARTMENT_STAFF and not staff.has_city_scope:
        departments = list(staff.departments.order_by("code").values_list("code", flat=True))
    if ward_code is not None:
        visible = wards_visible_to(user).filter(code=ward_code).exists()
        if not visible:
            return []
        if staff.role == Role.DEPARTMENT_STAFF and not staff.has_city_scope:
            return [ward_group(ward_code)] + [department_group(d, ward_code) for d in departments]
        return [ward_group(ward_code), ward_requests_group(ward_code)]
    if staff.has_city_scope:
        return [CITY_GROUP, REQUESTS_GROUP]
    if staff.role == Role.DEPARTMENT_STAFF:
        return [CITY_GROUP] + [department_group(code) for code in departments]
    groups: list[str] = []
    for code in wards_visible_to(user).values_list("code", flat=True):
        groups += [ward_group(code), ward_requests_group(code)]
    return groups


def current_ward_codes() -> list[str]:
    """Codes of every ward in force today (for city-wide jobs, not for users)."""
    return list(Ward.objects.current().order_by("code").values_list("code", flat=True))


def current_department_codes() -> list[str]:
    """Codes of every department (for city-wide jobs: the heartbeat reaches their groups)."""
    return list(Department.objects.order_by("code").values_list("code", flat=True))


def public_wards() -> QuerySet[Ward]:
    """The current wards as the public portal shows them (names and boundaries are public)."""
    return Ward.objects.current().order_by("name")


def alerts_visible_to(user: AnyUser) -> QuerySet[Alert]:
    """Alerts in the wards ``user`` may see, newest first."""
    return scope_by_ward(
        Alert.objects.select_related(
            "ward", "device", "assignee", "acknowledged_by", "resolved_by"
        ),
        user,
    ).order_by("-raised_at", "-id")


def alert_get_for_user(user: AnyUser, alert_id: int) -> Alert:
    """One alert if ``user`` may see it; Alert.DoesNotExist otherwise (views answer 404)."""
    return alerts_visible_to(user).get(pk=alert_id)


def may_handle_alerts(user: AnyUser) -> bool:
    """Who may acknowledge, assign and resolve: everyone on the operations side except
    department staff, whose city-wide view is read-only."""
    staff = _staff(user)
    return staff is not None and staff.role != Role.DEPARTMENT_STAFF


def may_handle_incidents(user: AnyUser) -> bool:
    """Incidents are handled by the same people as alerts (department staff read only)."""
    return may_handle_alerts(user)


def incidents_visible_to(user: AnyUser) -> QuerySet[Incident]:
    """Incidents in the wards ``user`` may see, newest first."""
    return scope_by_ward(
        Incident.objects.select_related("ward", "incident_type", "assignee", "created_by"),
        user,
    ).order_by("-created_at", "-id")


def incident_get_for_user(user: AnyUser, incident_id: int) -> Incident:
    """One incident if ``user`` may see it; Incident.DoesNotExist otherwise (404)."""
    return incidents_visible_to(user).get(pk=incident_id)


def incident_with_details_for_user(user: AnyUser, incident_id: int) -> Incident:
    """One incident with its checklist and timeline (and who did what) fetched up front."""
    return (
        incidents_visible_to(user)
        .prefetch_related(
            Prefetch("checklist", IncidentChecklistItem.objects.select_related("done_by")),
            Prefetch("timeline", IncidentEntry.objects.select_related("actor")),
        )
        .get(pk=incident_id)
    )


def incident_alerts_for(user: AnyUser, incident: Incident) -> QuerySet[Alert]:
    """The alerts linked to ``incident`` that ``user`` may see."""
    return alerts_visible_to(user).filter(incident=incident)


def incident_staff_for(incident: Incident) -> list[User]:
    """Who may be given the incident: active operators and admins, and the officials of its
    ward, in name order."""
    staff = User.objects.filter(is_active=True).filter(
        Q(is_superuser=True)
        | Q(role__in=[Role.ADMIN, Role.CITY_OPERATOR])
        | Q(role=Role.WARD_OFFICIAL, wards=incident.ward_id)
    )
    return sorted(staff.distinct(), key=lambda u: u.get_full_name() or u.get_username())


def incident_link_suggestions(
    user: AnyUser, incident: Incident, *, radius_m: float = 1000, hours: float = 24, limit: int = 20
) -> list[tuple[Alert, float]]:
    """Open alerts near the incident's place, raised within ``hours`` of it, not linked
    to any incident, that ``user`` may see: (alert, distance in metres), nearest first."""
    window = timedelta(hours=hours)
    candidates = (
        alerts_visible_to(user)
        .exclude(status=AlertStatus.RESOLVED)
        .filter(
            incident__isnull=True,
            last_seen_at__gte=incident.created_at - window,
            raised_at__lte=incident.created_at + window,
        )
    )
    return geo.nearest(
        candidates,
        lon=float(incident.longitude),
        lat=float(incident.latitude),
        radius_m=radius_m,
        limit=limit,
        scan=limit * 5,
        fields=("device__longitude", "device__latitude"),
    )


# --- What live events and the snapshot say of an alert or an incident -------------------------


def alert_data(alert: Alert) -> event_types.AlertData:
    """An alert as live events and the snapshot carry it (``event_types.AlertData``)."""
    return event_types.AlertData(
        id=alert.pk,
        device=alert.device.code if alert.device_id and alert.device else None,
        kind=alert.kind,
        cause=alert.cause,
        severity=alert.severity,
        status=alert.status,
        title=alert.title,
        raised_at=alert.raised_at,
        last_seen_at=alert.last_seen_at,
        occurrences=alert.occurrences,
        assignee=alert.assignee.get_username() if alert.assignee_id and alert.assignee else None,
        auto_cleared=alert.auto_cleared,
        incident=alert.incident_id,
    )


def incident_data(incident: Incident) -> event_types.IncidentData:
    """An incident as live events and the snapshot carry it (``event_types.IncidentData``)."""
    return event_types.IncidentData(
        id=incident.pk,
        reference=incident.reference,
        title=incident.title,
        type=incident.incident_type.code,
        type_name=incident.incident_type.name,
        severity=incident.severity,
        status=incident.status,
        lat=float(incident.latitude),
        lon=float(incident.longitude),
        assignee=incident.assignee.get_username() if incident.assignee else None,
        created_at=incident.created_at,
        updated_at=incident.updated_at,
    )
