"""Reads of personal data over time (Law 91/2025/QH15): which requests' contact details
are due for erasure, what is held about a reporter for one request (their data-subject
page and its JSON), and the processing record an administrator reads, built from the
settings and the tables so that it says what the platform does, not what it once did.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.sessions.models import Session
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from cameras.models import CameraDetail, ViewingSession
from ioc.models import AuditEntry, User
from services.choices import EntryKind, PhotoKind, RequestStatus
from services.models import (
    CLIENT_DETAIL_KEYS,
    CONTACT_FIELDS,
    DataSubjectRequest,
    RequestEntry,
    RequestPhoto,
    ServiceRequest,
)

# --- Contact details due for erasure ------------------------------------------------------


def ended_before(cutoff: datetime, prefix: str = "") -> Q:
    """Requests (or, with ``prefix`` "merged_into__", the requests they were merged into)
    that ended before ``cutoff``: closed, resolved (a dispute reopens it and clears
    ``resolved_at``, which restarts the clock), or rejected (rejection keeps no time of its
    own: ``updated_at`` is at or after it, so the clock can only run late, never early)."""
    return (
        Q(**{f"{prefix}status": RequestStatus.CLOSED, f"{prefix}closed_at__lte": cutoff})
        | Q(**{f"{prefix}status": RequestStatus.RESOLVED, f"{prefix}resolved_at__lte": cutoff})
        | Q(**{f"{prefix}status": RequestStatus.REJECTED, f"{prefix}updated_at__lte": cutoff})
    )


def contact_cutoff(now: datetime | None = None) -> datetime:
    """Requests that ended before this have kept their contact details long enough."""
    return (now or timezone.now()) - timedelta(days=max(settings.IOC_CONTACT_RETENTION_DAYS, 0))


def contacts_due(now: datetime | None = None) -> QuerySet[ServiceRequest]:
    """Requests whose reporter's contact details are due for erasure: not erased yet, and
    ended IOC_CONTACT_RETENTION_DAYS ago. A merged duplicate follows the request it joined
    (its reporter hears of that request's progress until it ends)."""
    cutoff = contact_cutoff(now)
    return ServiceRequest.objects.filter(contact_erased_at__isnull=True).filter(
        (Q(merged_into__isnull=True) & ended_before(cutoff))
        | (Q(merged_into__isnull=False) & ended_before(cutoff, "merged_into__"))
    )


def client_notes(request_ids: Any) -> QuerySet[RequestEntry]:
    """The staff-only notes in which an Open311 client said who its reporter is."""
    return RequestEntry.objects.filter(
        request_id__in=request_ids,
        kind=EntryKind.NOTE,
        public=False,
        data__has_any_keys=list(CLIENT_DETAIL_KEYS),
    )


# --- What is held about a reporter --------------------------------------------------------


def subject_request_by_code(code: str) -> ServiceRequest:
    """The request filed under ``code`` itself (a duplicate's reporter's data is on the
    duplicate, not on the request it was merged into); DoesNotExist otherwise."""
    return ServiceRequest.objects.select_related("category", "ward", "merged_into").get(
        code=code.strip().upper()
    )


def contact_erase_on(request: ServiceRequest) -> datetime | None:
    """When the retention will erase this request's contact details, if it has ended (a
    duplicate: when the request it joined ended); None while it is open or once erased."""
    if request.contact_erased_at is not None:
        return None
    ended = request.merged_into if request.merged_into_id else request
    if ended is None:
        return None
    since = {
        RequestStatus.CLOSED: ended.closed_at,
        RequestStatus.RESOLVED: ended.resolved_at,
        RequestStatus.REJECTED: ended.updated_at,
    }.get(RequestStatus(ended.status))
    if since is None:
        return None
    return since + timedelta(days=max(settings.IOC_CONTACT_RETENTION_DAYS, 0))


def subject_data(request: ServiceRequest) -> dict[str, Any]:
    """Everything held about the reporter for ``request``, as the data-subject page shows
    it and its JSON download gives it: the contact details, the photos they sent, what an
    Open311 client said of them, the request as they filed it with its public timeline,
    their data-subject requests, and how long each is kept. Staff-only working notes are
    not included (they are staff's record of the work, not the reporter's data)."""
    photos = [
        {
            "image": photo.image.url,
            "thumbnail": photo.thumbnail.url,
            "width": photo.width,
            "height": photo.height,
            "added_at": photo.created_at,
        }
        for photo in RequestPhoto.objects.filter(request=request, kind=PhotoKind.REPORT)
    ]
    client_details: dict[str, str] = {}
    for note in client_notes([request.pk]):
        client_details.update(
            {key: str(value) for key, value in note.data.items() if key in CLIENT_DETAIL_KEYS}
        )
    return {
        "code": request.code,
        "contact": {name: getattr(request, name) for name in CONTACT_FIELDS},
        "contact_erased_at": request.contact_erased_at,
        "contact_erase_on": contact_erase_on(request),
        "contact_retention_days": settings.IOC_CONTACT_RETENTION_DAYS,
        "client_details": client_details,
        # The portal keeps no client address with a request: the limits on filings and
        # private links count addresses in the cache for two hours at most.
        "network_addresses": [],
        "request": {
            "category": request.category.name,
            "description": request.description,
            "address": request.address,
            "latitude": str(request.latitude),
            "longitude": str(request.longitude),
            "answers": request.answers,
            "filed_at": request.created_at,
            "status": request.status,
            "rating": request.rating,
            "rating_comment": request.rating_comment,
        },
        "photos": photos,
        "timeline": [
            {
                "at": entry.at,
                "kind": entry.kind,
                "label": entry.get_kind_display(),
                "text": entry.text,
            }
            for entry in request.timeline.filter(public=True)
        ],
        "subject_requests": [
            {
                "kind": row.kind,
                "kind_label": row.get_kind_display(),
                "asked_at": row.asked_at,
                "answered_at": row.answered_at,
                "outcome": row.outcome,
                "outcome_label": row.get_outcome_display(),
            }
            for row in DataSubjectRequest.objects.filter(request=request).order_by("asked_at")
        ],
    }


# --- The processing record ----------------------------------------------------------------


@dataclass(frozen=True)
class Processing:
    """One kind of personal data the platform holds: what, why, for how long, who sees it,
    and how much of it there is now."""

    key: str
    what: str
    fields: list[str]
    why: str
    kept: str
    who: str
    figures: list[tuple[str, int | str]]


def _days(days: int) -> str:
    return ngettext("%(n)s day", "%(n)s days", days) % {"n": days}


def _verbose(model: Any, names: tuple[str, ...] | list[str]) -> list[str]:
    return [str(model._meta.get_field(name).verbose_name) for name in names]


def _text(value: str | Promise) -> str:
    return str(value)


def _contact_processing(now: datetime) -> Processing:
    days = settings.IOC_CONTACT_RETENTION_DAYS
    held = ServiceRequest.objects.filter(contact_erased_at__isnull=True)
    return Processing(
        key="contact",
        what=_text(_("Reporters' contact details")),
        fields=[
            *_verbose(ServiceRequest, CONTACT_FIELDS),
            _text(_("what an Open311 client says of its reporter (device, account, media)")),
        ],
        why=_text(
            _(
                "To answer the reporter, tell them of progress by e-mail, and let them "
                "(through their private link) rate, dispute, see or erase their data."
            )
        ),
        kept=_text(
            _(
                "Until %(days)s after the request ended (closed, rejected, or resolved and "
                "not disputed; a merged duplicate: when the request it joined ended), then "
                "erased by the hourly retention run (IOC_CONTACT_RETENTION_DAYS), or at "
                "once when the reporter asks."
            )
            % {"days": _days(days)}
        ),
        who=_text(
            _(
                "Staff whose scope has the request (administrators, city operators, the "
                "ward's officials, the department it is routed to); never the public "
                "pages, the public API or Open311."
            )
        ),
        figures=[
            (_text(_("requests holding contact details")), held.count()),
            (_text(_("due for erasure now")), contacts_due(now).count()),
            (
                _text(_("requests whose contact details were erased")),
                ServiceRequest.objects.filter(contact_erased_at__isnull=False).count(),
            ),
            (
                _text(_("erasures in the audit log")),
                AuditEntry.objects.filter(action="request.contact_erased").count(),
            ),
        ],
    )


def _photos_processing() -> Processing:
    return Processing(
        key="photos",
        what=_text(_("Photos sent with requests")),
        fields=_verbose(RequestPhoto, ["image", "thumbnail", "created_at"]),
        why=_text(
            _(
                "To show the problem to staff and the public. Re-encoded from the pixels "
                "when received: no location, camera or other metadata is kept. A photo may "
                "show a person or a number plate."
            )
        ),
        kept=_text(
            _(
                "With the request, public and anonymous, for as long as the request is "
                "kept; removed at once when its reporter asks (their own photos; photos "
                "staff took of the work stay)."
            )
        ),
        who=_text(_("Everyone (the public tracking page), as the request itself.")),
        figures=[
            (
                _text(_("photos sent by reporters")),
                RequestPhoto.objects.filter(kind=PhotoKind.REPORT).count(),
            )
        ],
    )


def _texts_processing() -> Processing:
    return Processing(
        key="texts",
        what=_text(_("What reporters write")),
        fields=_verbose(ServiceRequest, ["description", "address", "answers", "rating_comment"]),
        why=_text(
            _(
                "It is the public request itself. Reporters are asked not to write personal "
                "details in it; staff correct a text that does."
            )
        ),
        kept=_text(_("With the request; not erased with the contact details.")),
        who=_text(_("Everyone (the public tracking page).")),
        figures=[(_text(_("requests")), ServiceRequest.objects.count())],
    )


def _subject_requests_processing() -> Processing:
    rows = DataSubjectRequest.objects.all()
    return Processing(
        key="subject_requests",
        what=_text(_("Data-subject requests")),
        fields=_verbose(DataSubjectRequest, ["request", "kind", "asked_at", "outcome"]),
        why=_text(_("To show that each request about personal data was answered, and how.")),
        kept=_text(
            _("With the request. Only what was done is recorded, by field name, never a value.")
        ),
        who=_text(_("Administrators (the admin).")),
        figures=[
            (_text(_("access requests")), rows.filter(kind="access").count()),
            (_text(_("erasure requests")), rows.exclude(kind="access").count()),
        ],
    )


def _snapshot_processing() -> Processing:
    days = settings.IOC_SNAPSHOT_RETENTION_DAYS
    folder = Path(settings.MEDIA_ROOT) / "snapshots"
    files = sum(1 for _path in folder.glob("*")) if folder.is_dir() else 0
    return Processing(
        key="snapshots",
        what=_text(_("Camera images")),
        fields=[_text(_("each camera's latest snapshot")), _text(_("live video (not stored)"))],
        why=_text(
            _(
                "To let operators see the city. A camera image may show people and number "
                "plates. Live video passes through the relay and is not stored."
            )
        ),
        kept=_text(
            _(
                "The latest snapshot of each camera only, replaced at each poll. Any other "
                "file (a removed camera's) is deleted once %(days)s old "
                "(IOC_SNAPSHOT_RETENTION_DAYS). No incident or request keeps a camera image."
            )
            % {"days": _days(days)}
        ),
        who=_text(_("Staff whose scope has the camera; every live viewing is recorded.")),
        figures=[
            (
                _text(_("cameras with a snapshot")),
                CameraDetail.objects.filter(snapshot_at__isnull=False).count(),
            ),
            (_text(_("files in the snapshots folder")), files),
        ],
    )


def _staff_processing() -> Processing:
    days = settings.IOC_AUDIT_RETENTION_DAYS
    kept = (
        _text(
            _(
                "%(days)s (IOC_AUDIT_RETENTION_DAYS), whole months: each month is exported "
                "to %(folder)s (gzip JSON Lines, readable by the server's account only) "
                "before its rows are deleted, and the deletion is itself in the log."
            )
        )
        % {"days": _days(days), "folder": settings.IOC_AUDIT_EXPORT_DIR}
        if days > 0
        else _text(_("For ever (IOC_AUDIT_RETENTION_DAYS is 0)."))
    )
    oldest = AuditEntry.objects.order_by("at").values_list("at", flat=True).first()
    folder = Path(settings.IOC_AUDIT_EXPORT_DIR)
    exports = sum(1 for _path in folder.glob("audit-*.jsonl.gz")) if folder.is_dir() else 0
    return Processing(
        key="audit",
        what=_text(_("The audit log")),
        fields=_verbose(AuditEntry, ["actor_label", "action", "at", "ip_address", "before"]),
        why=_text(
            _(
                "To know who did what: every staff write, with the staff member's address. "
                "An erasure is recorded by field name, never with the values erased, and "
                "a reporter's own requests without their address."
            )
        ),
        kept=kept,
        who=_text(_("Administrators.")),
        figures=[
            (
                _text(_("oldest audit entry")),
                timezone.localtime(oldest).strftime("%d/%m/%Y") if oldest else "–",
            ),
            (_text(_("monthly exports")), exports),
            (
                _text(_("months deleted after export")),
                AuditEntry.objects.filter(action="audit.pruned").count(),
            ),
        ],
    )


def _viewing_processing() -> Processing:
    return Processing(
        key="viewings",
        what=_text(_("Staff accounts and live viewings")),
        fields=[
            *_verbose(User, ["username", "first_name", "last_name", "email"]),
            *_verbose(ViewingSession, ["user", "device", "started_at", "address"]),
        ],
        why=_text(
            _(
                "To let staff sign in, and to know who watched which camera live "
                "(a camera image is personal data)."
            )
        ),
        kept=_text(
            _(
                "No retention is set: an account is kept until an administrator removes "
                "it, a viewing for ever."
            )
        ),
        who=_text(_("Administrators.")),
        figures=[
            (_text(_("staff accounts")), User.objects.count()),
            (_text(_("live viewings")), ViewingSession.objects.count()),
        ],
    )


def _sessions_processing(now: datetime) -> Processing:
    return Processing(
        key="sessions",
        what=_text(_("Browser sessions")),
        fields=[
            _text(_("a portal session: the tracking codes its browser filed or proved")),
            _text(_("a staff session: the account signed in")),
        ],
        why=_text(_("To remember, between pages, what a browser may do.")),
        kept=_text(
            _(
                "%(hours)s hours after the last visit (IOC_SESSION_HOURS); expired "
                "sessions are deleted by the hourly retention run. Limits on filings and "
                "private links count client addresses in the cache for two hours at most."
            )
        )
        % {"hours": f"{settings.SESSION_COOKIE_AGE / 3600:g}"},
        who=_text(_("Nobody reads them; the browser holding the cookie uses its own.")),
        figures=[(_text(_("sessions")), Session.objects.filter(expire_date__gte=now).count())],
    )


def processing_record(now: datetime | None = None) -> list[Processing]:
    """The processing record: each kind of personal data the platform holds, read from
    the settings in force and the tables as they are."""
    now = now or timezone.now()
    return [
        _contact_processing(now),
        _photos_processing(),
        _texts_processing(),
        _subject_requests_processing(),
        _snapshot_processing(),
        _staff_processing(),
        _viewing_processing(),
        _sessions_processing(now),
    ]
