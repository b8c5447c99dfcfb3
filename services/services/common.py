"""The steps every write of a request shares: lock it, check the staff member's scope, keep
its timeline and ``updated_at``, audit, compute a working-hours deadline, store a photo."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django.utils.translation import gettext as _

from ioc.models import User
from ioc.services.audit import audit_record
from services.calendar import working_calendar
from services.choices import EntryKind, PhotoKind
from services.models import RequestEntry, RequestPhoto, ServiceRequest
from services.photos import PreparedPhoto
from services.selectors import requests_visible_to


def entry_add(
    request: ServiceRequest,
    kind: EntryKind,
    *,
    actor: User | None = None,
    text: str = "",
    public: bool = True,
    data: dict[str, Any] | None = None,
) -> RequestEntry:
    """One line of the request's timeline (``public`` ones show on the tracking page)."""
    return RequestEntry.objects.create(
        request=request, actor=actor, kind=kind, text=text, public=public, data=data or {}
    )


def touch(request: ServiceRequest, fields: Sequence[str]) -> None:
    """Save ``fields`` and mark the request changed now."""
    request.updated_at = timezone.now()
    request.save(update_fields=[*fields, "updated_at"])


def audit(
    actor: User, action: str, request: ServiceRequest, before: Any, after: Any, reason: str = ""
) -> None:
    """Audit a staff write as ``request.<action>``, in the request's ward."""
    audit_record(
        actor=actor,
        action=f"request.{action}",
        obj=request,
        before=before,
        after=after,
        ward_code=request.ward.code,
        reason=reason,
    )


def locked(request: ServiceRequest) -> ServiceRequest:
    """The request re-read and locked for this transaction, with what writes read of it."""
    return (
        ServiceRequest.objects.select_for_update(of=("self",))
        .select_related("ward", "category", "department", "assignee")
        .get(pk=request.pk)
    )


def staff_check(actor: User, request: ServiceRequest) -> None:
    """Staff may change only requests their scope shows them."""
    if not requests_visible_to(actor).filter(pk=request.pk).exists():
        raise PermissionDenied(_("This request is outside your area."))


def deadline_cause(code: str) -> str:
    """The cause of the deadline alert of request ``code`` (no device: one per request)."""
    return f"request:{code}"


def deadline_after(start: datetime, hours: int) -> datetime:
    """``hours`` working hours after ``start`` (the working calendar's days and hours)."""
    return working_calendar().add_working_hours(start, hours)


def photo_save(request: ServiceRequest, photo: PreparedPhoto, kind: PhotoKind) -> RequestPhoto:
    """Store a checked photo (``photo_prepare``) and its thumbnail on the request."""
    stored = RequestPhoto(request=request, kind=kind)
    stored.image.save(photo.display.name or "photo.jpg", photo.display, save=False)
    stored.thumbnail.save(photo.thumbnail.name or "thumb.jpg", photo.thumbnail, save=False)
    stored.save()
    return stored
