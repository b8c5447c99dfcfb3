"""Writes of citizen services: filing a request, the staff workflow, the citizen's rating
and dispute, merging duplicates and the deadline sweep.

Every function owns its transaction, keeps the request's timeline, audits staff writes,
publishes ``request.created`` / ``request.updated`` after commit and emails a reporter who
gave an address when the request changes state (after commit too).
"""

from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from ioc import geo, realtime
from ioc.models import Department, User, Ward
from ioc.services.core import audit_record
from ioc.services.core import text_clean as _text
from services.calendar import working_calendar
from services.choices import EntryKind, PhotoKind, RequestLevel, RequestSource, RequestStatus
from services.models import (
    OPEN_STATUSES,
    Open311Key,
    RequestEntry,
    RequestPhoto,
    ServiceCategory,
    ServiceRequest,
    TrackingCounter,
)
from services.photos import MAX_PHOTOS, PreparedPhoto, photo_prepare

# Which status may follow which, for staff. Citizens dispute (resolved/closed ->
# reopened) through request_dispute.
TRANSITIONS: dict[str, set[str]] = {
    RequestStatus.NEW: {RequestStatus.TRIAGED, RequestStatus.ASSIGNED, RequestStatus.REJECTED},
    RequestStatus.TRIAGED: {RequestStatus.ASSIGNED, RequestStatus.REJECTED},
    RequestStatus.ASSIGNED: {
        RequestStatus.IN_PROGRESS,
        RequestStatus.RESOLVED,
        RequestStatus.REJECTED,
    },
    RequestStatus.IN_PROGRESS: {RequestStatus.RESOLVED},
    RequestStatus.REOPENED: {
        RequestStatus.ASSIGNED,
        RequestStatus.IN_PROGRESS,
        RequestStatus.RESOLVED,
    },
    RequestStatus.RESOLVED: {RequestStatus.CLOSED, RequestStatus.REOPENED},
    RequestStatus.REJECTED: {RequestStatus.REOPENED},
    RequestStatus.CLOSED: set(),
}


# --- Helpers ----------------------------------------------------------------------------------


# The columns a live payload is made of (``values()`` names), for reads of many requests.
PAYLOAD_FIELDS = (
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


def payload_from_row(row: Mapping[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """What live events say of a request, from its PAYLOAD_FIELDS: no reporter data, ever."""
    return {
        "id": row["id"],
        "code": row["code"],
        "category": row["category__code"],
        "category_name": row["category__name"],
        "status": row["status"],
        "level": row["level"],
        "lat": float(row["latitude"]),
        "lon": float(row["longitude"]),
        "department": row["department__code"],
        "deadline_at": row["deadline_at"],
        "overdue": row["status"] in OPEN_STATUSES and row["deadline_at"] < (now or timezone.now()),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "rating": row["rating"],
    }


def request_payload(request: ServiceRequest) -> dict[str, Any]:
    """What live events say of one request (see ``payload_from_row``)."""
    return payload_from_row(
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


def _publish(request: ServiceRequest, event_type: realtime.EventType) -> None:
    realtime.publish(
        realtime.Event(type=event_type, ward=request.ward.code, data=request_payload(request))
    )


def tracking_url(request: ServiceRequest) -> str:
    """The public page where the citizen follows the request."""
    return settings.IOC_PUBLIC_URL + reverse("portal-track", kwargs={"code": request.code})


def _reporters(request: ServiceRequest) -> list[str]:
    """Who hears of a change: the request's reporter and those of duplicates merged into it."""
    emails = [request.reporter_email, *request.duplicates.values_list("reporter_email", flat=True)]
    return sorted({email for email in emails if email})


def _notify(request: ServiceRequest, what: str) -> None:
    """Email the reporters after commit (in the platform's language), with the link."""
    recipients = _reporters(request)
    if not recipients:
        return
    with translation.override(settings.LANGUAGE_CODE):
        subject = _("Your feedback %(code)s: %(what)s") % {"code": request.code, "what": what}
        body = _(
            "Your feedback %(code)s (%(category)s) has changed: %(what)s.\n\n"
            "Follow it here: %(url)s\n"
        ) % {
            "code": request.code,
            "category": request.category.name,
            "what": what,
            "url": tracking_url(request),
        }
    transaction.on_commit(lambda: send_mail(subject, body, None, recipients, fail_silently=True))


def _entry(
    request: ServiceRequest,
    kind: EntryKind,
    *,
    actor: User | None = None,
    text: str = "",
    public: bool = True,
    data: dict[str, Any] | None = None,
) -> RequestEntry:
    return RequestEntry.objects.create(
        request=request, actor=actor, kind=kind, text=text, public=public, data=data or {}
    )


def _touch(request: ServiceRequest, fields: Sequence[str]) -> None:
    request.updated_at = timezone.now()
    request.save(update_fields=[*fields, "updated_at"])


def _audit(
    actor: User, action: str, request: ServiceRequest, before: Any, after: Any, reason: str = ""
) -> None:
    audit_record(
        actor=actor,
        action=f"request.{action}",
        obj=request,
        before=before,
        after=after,
        ward_code=request.ward.code,
        reason=reason,
    )


def _locked(request: ServiceRequest) -> ServiceRequest:
    return (
        ServiceRequest.objects.select_for_update(of=("self",))
        .select_related("ward", "category", "department", "assignee")
        .get(pk=request.pk)
    )


def _check_staff(actor: User, request: ServiceRequest) -> None:
    """Staff may change only requests their scope shows them."""
    from services.selectors import requests_visible_to

    if not requests_visible_to(actor).filter(pk=request.pk).exists():
        raise PermissionDenied(_("This request is outside your area."))


def _deadline(start: datetime, hours: int) -> datetime:
    return working_calendar().add_working_hours(start, hours)


def tracking_code_next(year: int) -> str:
    """The next tracking code of ``year`` (PA-2026-000123), gap-free within committed work."""
    counter, _created = TrackingCounter.objects.select_for_update().get_or_create(year=year)
    counter.last += 1
    counter.save(update_fields=["last"])
    return f"PA-{year}-{counter.last:06d}"


# --- Filing -----------------------------------------------------------------------------------


def answers_clean(category: ServiceCategory, raw: dict[str, Any]) -> dict[str, Any]:
    """The answers to the category's extra questions, checked against their definitions."""
    answers: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for question in category.questions or []:
        code = str(question.get("code", ""))
        value = raw.get(code)
        values = value if isinstance(value, list) else ([] if value in (None, "") else [value])
        allowed = {str(option.get("key")) for option in question.get("values") or []}
        datatype = question.get("datatype", "string")
        if not values:
            if question.get("required"):
                errors[code] = _("Answer: %(q)s") % {"q": question.get("description", code)}
            continue
        if datatype == "multivaluelist":
            if allowed and not {str(v) for v in values} <= allowed:
                errors[code] = _("Choose from the list.")
            answers[code] = [str(v)[:200] for v in values]
        elif datatype == "singlevaluelist":
            if allowed and str(values[0]) not in allowed:
                errors[code] = _("Choose from the list.")
            answers[code] = str(values[0])[:200]
        elif datatype == "number":
            try:
                number = float(str(values[0]).replace(",", "."))
            except ValueError:
                number = math.nan
            if math.isfinite(number):  # NaN and infinity are not JSON (PostgreSQL refuses them)
                answers[code] = number
            else:
                errors[code] = _("Write a number.")
        else:
            answers[code] = str(values[0]).replace("\x00", "")[:1000]
    if errors:
        raise ValidationError(errors)
    return answers


@transaction.atomic
def request_create(
    *,
    category: ServiceCategory,
    description: str,
    latitude: Decimal | float,
    longitude: Decimal | float,
    address: str = "",
    answers: dict[str, Any] | None = None,
    reporter_name: str = "",
    reporter_phone: str = "",
    reporter_email: str = "",
    photos: Iterable[PreparedPhoto] = (),
    source: RequestSource = RequestSource.PORTAL,
    api_client: Open311Key | None = None,
    client_details: Mapping[str, str] | None = None,
    actor: User | None = None,
) -> ServiceRequest:
    """File a request: its ward from the pin (a pin outside the city is refused), its
    handling unit and working-hours deadline from the category; the photos are already
    checked (``photo_prepare``). ``client_details`` (what an Open311 client says of its
    reporter and media: device_id, account_id, media_url) go to a staff-only timeline
    note. Publishes ``request.created``."""
    if not category.is_active:
        raise ValidationError({"category": _("This category is no longer in use.")})
    if category.legal_process:
        raise ValidationError(
            {"category": category.legal_notice or _("This is not filed on this portal.")}
        )
    try:
        geo.check_lon_lat(float(longitude), float(latitude))
    except (TypeError, ValueError) as exc:
        raise ValidationError({"location": _("The place on the map is not valid.")}) from exc
    ward_code = geo.ward_for_point(longitude, latitude)
    if ward_code is None:
        raise ValidationError(
            {"location": _("This place is outside the city: put the pin inside the city.")}
        )
    photos = list(photos)
    if len(photos) > MAX_PHOTOS:
        raise ValidationError({"photos": _("At most %(n)s photos.") % {"n": MAX_PHOTOS}})
    now = timezone.now()
    request = ServiceRequest(
        code=tracking_code_next(timezone.localtime(now).year),
        category=category,
        description=_text(
            description, "description", required=True, message=_("Describe the problem.")
        ),
        answers=answers_clean(category, answers or {}),
        latitude=geo.coordinate(latitude),
        longitude=geo.coordinate(longitude),
        address=_text(address, "address", required=False, limit=250),
        ward=Ward.objects.get(code=ward_code),
        department=category.department,
        source=source,
        api_client=api_client,
        reporter_name=_text(reporter_name, "name", required=False, limit=120),
        reporter_phone=_text(reporter_phone, "phone", required=False, limit=20),
        reporter_email=_text(reporter_email, "email", required=False, limit=254),
        created_at=now,
        updated_at=now,
        deadline_at=_deadline(now, category.deadline_hours),
    )
    request.full_clean(exclude=["api_client"])
    request.save()
    for photo in photos:
        _photo_save(request, photo, PhotoKind.REPORT)
    _entry(request, EntryKind.RECEIVED, actor=actor)
    details = {
        name: _text(str(value), name, required=False, limit=1000)
        for name, value in (client_details or {}).items()
        if value
    }
    if details:
        text = "\n".join(f"{name}: {value}" for name, value in details.items())
        _entry(request, EntryKind.NOTE, actor=actor, text=text, public=False, data=details)
    if actor is not None:
        _audit(actor, "created", request, None, {"code": request.code})
    _publish(request, realtime.EventType.REQUEST_CREATED)
    return request


def _photo_save(request: ServiceRequest, photo: PreparedPhoto, kind: PhotoKind) -> RequestPhoto:
    stored = RequestPhoto(request=request, kind=kind)
    stored.image.save(photo.display.name or "photo.jpg", photo.display, save=False)
    stored.thumbnail.save(photo.thumbnail.name or "thumb.jpg", photo.thumbnail, save=False)
    stored.save()
    return stored


def photos_prepare(files: Sequence[IO[bytes]], names: Sequence[str] = ()) -> list[PreparedPhoto]:
    """Check uploaded photos (at most MAX_PHOTOS); all errors at once, keyed ``photos``."""
    if len(files) > MAX_PHOTOS:
        raise ValidationError({"photos": _("At most %(n)s photos.") % {"n": MAX_PHOTOS}})
    prepared, problems = [], []
    for index, upload in enumerate(files):
        try:
            prepared.append(photo_prepare(upload, name=names[index] if index < len(names) else ""))
        except ValidationError as exc:
            problems.extend(exc.messages)
    if problems:
        raise ValidationError({"photos": problems})
    return prepared


# --- Open311 keys -----------------------------------------------------------------------------


def open311_key_hash(key: str) -> str:
    """How an Open311 key is stored: its SHA-256, never the key itself."""
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def open311_key_issue(*, name: str, actor_label: str, actor: User | None = None) -> str:
    """Issue a new Open311 key for an integrator and return it: shown once, stored hashed;
    revoke it in the admin (``is_active``)."""
    name = _text(name, "name", required=True, limit=120)
    key = secrets.token_urlsafe(32)
    client = Open311Key(name=name, key_hash=open311_key_hash(key))
    client.full_clean()
    client.save()
    audit_record(
        actor=actor,
        actor_label=actor_label,
        action="open311_key.issued",
        obj=client,
        after={"name": name},
    )
    return key


# --- Staff workflow ---------------------------------------------------------------------------


def _move(
    actor: User,
    request: ServiceRequest,
    status: RequestStatus,
    kind: EntryKind,
    *,
    text: str = "",
    public: bool = True,
    data: dict[str, Any] | None = None,
) -> ServiceRequest:
    if status not in TRANSITIONS[request.status]:
        raise ValidationError(
            {
                "status": _("A request that is %(from)s cannot become %(to)s.")
                % {"from": RequestStatus(request.status).label, "to": status.label}
            }
        )
    before = {"status": request.status}
    request.status = status
    fields = ["status"]
    now = timezone.now()
    if status == RequestStatus.RESOLVED:
        request.resolved_at = now
        fields.append("resolved_at")
    elif status == RequestStatus.CLOSED:
        request.closed_at = now
        fields.append("closed_at")
    _touch(request, fields)
    _entry(request, kind, actor=actor, text=text, public=public, data=data)
    _audit(actor, str(kind), request, before, {"status": status, **(data or {})}, text)
    if status not in OPEN_STATUSES:
        from ioc.services.alerts import alert_clear

        alert_clear(device=None, cause=f"request:{request.code}")  # its deadline alert
    _publish(request, realtime.EventType.REQUEST_UPDATED)
    _notify(request, str(RequestStatus(status).label))
    return request


@transaction.atomic
def request_triage(*, actor: User, request: ServiceRequest) -> ServiceRequest:
    """Someone has read the request and it is in scope."""
    request = _locked(request)
    _check_staff(actor, request)
    return _move(actor, request, RequestStatus.TRIAGED, EntryKind.TRIAGED)


@transaction.atomic
def request_assign(
    *,
    actor: User,
    request: ServiceRequest,
    department: Department | None = None,
    ward: Ward | None = None,
    assignee: User | None = None,
) -> ServiceRequest:
    """Route (or forward) the request to a department, or to the ward of its place
    (``department=None``), optionally to a named person there."""
    request = _locked(request)
    _check_staff(actor, request)
    if ward is not None and ward.pk != request.ward_id:
        raise ValidationError({"ward": _("A request is handled by the ward of its place.")})
    before = {
        "department": request.department.code if request.department else None,
        "assignee": request.assignee.get_username() if request.assignee else None,
    }
    request.department = department
    request.assignee = assignee
    unit = department.name if department else request.ward.title
    if request.status in TRANSITIONS and RequestStatus.ASSIGNED in TRANSITIONS[request.status]:
        _touch(request, ["department", "assignee"])
        return _move(
            actor,
            request,
            RequestStatus.ASSIGNED,
            EntryKind.ASSIGNED,
            text=unit,
            data={"department": department.code if department else None, **({"from": before})},
        )
    if not request.is_open:
        raise ValidationError({"status": _("Reopen the request before routing it.")})
    _touch(request, ["department", "assignee"])  # forwarded while being worked on
    _entry(request, EntryKind.ASSIGNED, actor=actor, text=unit)
    _audit(
        actor, "forwarded", request, before, {"department": department.code if department else None}
    )
    _publish(request, realtime.EventType.REQUEST_UPDATED)
    return request


@transaction.atomic
def request_start(*, actor: User, request: ServiceRequest) -> ServiceRequest:
    """Work on the request has begun."""
    request = _locked(request)
    _check_staff(actor, request)
    return _move(actor, request, RequestStatus.IN_PROGRESS, EntryKind.STARTED)


@transaction.atomic
def request_answer(*, actor: User, request: ServiceRequest, text: str) -> RequestEntry:
    """A public answer: the citizen reads it on the tracking page (and gets an email)."""
    request = _locked(request)
    _check_staff(actor, request)
    text = _text(text, "text", required=True, message=_("Write the answer first."))
    entry = _entry(request, EntryKind.ANSWER, actor=actor, text=text)
    _touch(request, [])
    _audit(actor, "answered", request, None, {"entry": entry.pk}, text)
    _publish(request, realtime.EventType.REQUEST_UPDATED)
    _notify(request, _("new answer"))
    return entry


@transaction.atomic
def request_note(*, actor: User, request: ServiceRequest, text: str) -> RequestEntry:
    """An internal note: staff only, never on the tracking page or in Open311."""
    request = _locked(request)
    _check_staff(actor, request)
    text = _text(text, "text", required=True, message=_("Write the note first."))
    entry = _entry(request, EntryKind.NOTE, actor=actor, text=text, public=False)
    _touch(request, [])
    _audit(actor, "noted", request, None, {"entry": entry.pk}, text)
    return entry


@transaction.atomic
def request_resolve(
    *,
    actor: User,
    request: ServiceRequest,
    answer: str,
    after_photo: PreparedPhoto | None = None,
) -> ServiceRequest:
    """Resolved, with the public answer that says what was done (required) and,
    optionally, a photo of the place after the work."""
    request = _locked(request)
    _check_staff(actor, request)
    answer = _text(answer, "answer", required=True, message=_("Tell the citizen what was done."))
    if after_photo is not None:
        _photo_save(request, after_photo, PhotoKind.AFTER)
    return _move(actor, request, RequestStatus.RESOLVED, EntryKind.RESOLVED, text=answer)


@transaction.atomic
def request_close(*, actor: User, request: ServiceRequest) -> ServiceRequest:
    """Closed for good (after the citizen's rating, or when the time to dispute passed)."""
    request = _locked(request)
    _check_staff(actor, request)
    return _move(actor, request, RequestStatus.CLOSED, EntryKind.CLOSED)


@transaction.atomic
def request_reject(*, actor: User, request: ServiceRequest, reason: str) -> ServiceRequest:
    """Not something the city handles (or not a real report): the reason is public."""
    request = _locked(request)
    _check_staff(actor, request)
    reason = _text(reason, "reason", required=True, message=_("Say why it is rejected."))
    request.rejection_reason = reason
    request.save(update_fields=["rejection_reason"])
    return _move(actor, request, RequestStatus.REJECTED, EntryKind.REJECTED, text=reason)


@transaction.atomic
def request_reopen(*, actor: User, request: ServiceRequest, reason: str) -> ServiceRequest:
    """Staff reopen a resolved or rejected request, with a new deadline."""
    request = _locked(request)
    _check_staff(actor, request)
    reason = _text(reason, "reason", required=True, message=_("Say why it is reopened."))
    request.deadline_at = _deadline(timezone.now(), request.category.deadline_hours)
    request.resolved_at = None
    request.deadline_warned_at = None
    request.save(update_fields=["deadline_at", "resolved_at", "deadline_warned_at"])
    return _move(actor, request, RequestStatus.REOPENED, EntryKind.REOPENED, text=reason)


@transaction.atomic
def request_merge(
    *, actor: User, duplicate: ServiceRequest, into: ServiceRequest
) -> ServiceRequest:
    """The duplicate is closed into the surviving request; its reporter now follows the
    survivor (emails and the duplicate's tracking page point there)."""
    duplicate, into = _locked(duplicate), _locked(into)
    _check_staff(actor, duplicate)
    _check_staff(actor, into)
    if duplicate.pk == into.pk:
        raise ValidationError({"into": _("A request cannot be merged into itself.")})
    if into.merged_into_id is not None or not into.is_open:
        raise ValidationError({"into": _("Merge into an open request that was not merged.")})
    if not duplicate.is_open:
        raise ValidationError({"status": _("Only an open request can be merged.")})
    duplicate.merged_into = into
    duplicate.status = RequestStatus.CLOSED
    duplicate.closed_at = timezone.now()
    _touch(duplicate, ["merged_into", "status", "closed_at"])
    _entry(duplicate, EntryKind.MERGED, actor=actor, text=into.code, data={"into": into.code})
    _entry(
        into,
        EntryKind.MERGED,
        actor=actor,
        text=duplicate.code,
        public=False,
        data={"duplicate": duplicate.code},
    )
    _touch(into, [])
    _audit(actor, "merged", duplicate, None, {"into": into.code})
    _publish(duplicate, realtime.EventType.REQUEST_UPDATED)
    _publish(into, realtime.EventType.REQUEST_UPDATED)
    _notify(duplicate, _("merged into %(code)s") % {"code": into.code})
    return into


# --- The citizen ------------------------------------------------------------------------------


@transaction.atomic
def request_rate(*, request: ServiceRequest, rating: int, comment: str = "") -> ServiceRequest:
    """The citizen rates the answer (1–5) once the request is resolved; once."""
    request = _locked(request)
    if (
        request.status not in (RequestStatus.RESOLVED, RequestStatus.CLOSED)
        or request.merged_into_id
    ):
        raise ValidationError({"rating": _("You can rate once the request is resolved.")})
    if request.rating is not None:
        raise ValidationError({"rating": _("This request has been rated already.")})
    if rating not in range(1, 6):
        raise ValidationError({"rating": _("Choose from 1 to 5 stars.")})
    request.rating = rating
    request.rating_comment = _text(comment, "comment", required=False, limit=1000)
    request.rated_at = timezone.now()
    _touch(request, ["rating", "rating_comment", "rated_at"])
    _entry(request, EntryKind.RATED, text=request.rating_comment, data={"rating": rating})
    _publish(request, realtime.EventType.REQUEST_UPDATED)
    return request


@transaction.atomic
def request_dispute(*, request: ServiceRequest, reason: str) -> ServiceRequest:
    """The citizen is not satisfied with the resolution: the request reopens at the
    supervising level (the city's operators) with a new deadline."""
    request = _locked(request)
    if request.status != RequestStatus.RESOLVED or request.merged_into_id:
        raise ValidationError({"status": _("Only a resolved request can be disputed.")})
    reason = _text(
        reason, "reason", required=True, message=_("Say what is still wrong."), limit=2000
    )
    request.status = RequestStatus.REOPENED
    request.level = RequestLevel.SUPERVISING
    request.resolved_at = None
    request.deadline_warned_at = None
    request.deadline_at = _deadline(timezone.now(), request.category.deadline_hours)
    _touch(request, ["status", "level", "resolved_at", "deadline_warned_at", "deadline_at"])
    _entry(request, EntryKind.DISPUTED, text=reason)
    _publish(request, realtime.EventType.REQUEST_UPDATED)
    _notify(request, str(RequestStatus.REOPENED.label))
    return request


# --- Deadlines --------------------------------------------------------------------------------


def requests_deadline_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Warn the unit of open requests near their deadline (an alert in the ward) and
    escalate overdue ones to the supervising level; each request once for each."""
    from ioc.choices import AlertKind, Severity
    from ioc.services.alerts import alert_raise

    now = now or timezone.now()
    share = float(settings.IOC_DEADLINE_WARNING_SHARE)
    warned = escalated = 0
    open_requests = ServiceRequest.objects.filter(status__in=OPEN_STATUSES).select_related(
        "ward", "category"
    )
    for request in open_requests.filter(deadline_warned_at__isnull=True).iterator():
        total = (request.deadline_at - request.created_at).total_seconds()
        left = (request.deadline_at - now).total_seconds()
        if total > 0 and left <= share * total:
            with transaction.atomic():
                overdue = left <= 0
                alert_raise(
                    ward=request.ward,
                    device=None,
                    kind=AlertKind.DEADLINE,
                    cause=f"request:{request.code}",
                    severity=Severity.CRITICAL if overdue else Severity.WARNING,
                    title=(
                        _("Request %(code)s is overdue")
                        if overdue
                        else _("Request %(code)s is due soon")
                    )
                    % {"code": request.code},
                    data={"request": request.code},
                )
                ServiceRequest.objects.filter(pk=request.pk).update(deadline_warned_at=now)
                _entry(request, EntryKind.DEADLINE, public=False, data={"overdue": overdue})
            warned += 1
    for request in open_requests.filter(deadline_at__lt=now, level=RequestLevel.UNIT).iterator():
        with transaction.atomic():
            ServiceRequest.objects.filter(pk=request.pk).update(
                level=RequestLevel.SUPERVISING, updated_at=now
            )
            request.level = RequestLevel.SUPERVISING
            _entry(request, EntryKind.ESCALATED, public=False)
            _publish(request, realtime.EventType.REQUEST_UPDATED)
        escalated += 1
    return {"warned": warned, "escalated": escalated}


# --- Incidents --------------------------------------------------------------------------------


@transaction.atomic
def request_incident_open(*, actor: User, request: ServiceRequest) -> Any:
    """Open an incident about a request (at its place) and link the request to it."""
    from ioc.models import IncidentType
    from ioc.services.incidents import incident_create

    request = _locked(request)
    _check_staff(actor, request)
    if request.incident_id is not None:
        raise ValidationError({"incident": _("This request already belongs to an incident.")})
    kind = IncidentType.objects.filter(is_active=True, alert_causes=[]).first()
    kind = kind or IncidentType.objects.filter(is_active=True).first()
    if kind is None:
        raise ValidationError({"incident": _("No incident type is configured.")})
    incident = incident_create(
        actor=actor,
        incident_type=kind,
        title=f"{request.category.name} ({request.code})",
        latitude=request.latitude,
        longitude=request.longitude,
        address=request.address,
        description=request.description,
    )
    return _incident_link(actor, request, incident)


@transaction.atomic
def request_incident_link(*, actor: User, request: ServiceRequest, incident: Any) -> Any:
    """Link a request to an incident about the same event (the caller fetched the incident
    through the actor's scope)."""
    request = _locked(request)
    _check_staff(actor, request)
    return _incident_link(actor, request, incident)


def _incident_link(actor: User, request: ServiceRequest, incident: Any) -> Any:
    from ioc.choices import IncidentEntryKind
    from ioc.models import IncidentEntry

    if not incident.is_open:
        raise ValidationError({"incident": _("Link to an open incident.")})
    request.incident = incident
    _touch(request, ["incident"])
    _entry(
        request,
        EntryKind.NOTE,
        actor=actor,
        public=False,
        text=incident.reference,
        data={"incident": incident.pk},
    )
    IncidentEntry.objects.create(
        incident=incident,
        actor=actor,
        kind=IncidentEntryKind.LINKED,
        text=f"{request.code} · {request.category.name}",
        data={"request": request.code},
    )
    _audit(actor, "incident_linked", request, None, {"incident": incident.reference})
    _publish(request, realtime.EventType.REQUEST_UPDATED)
    return incident
