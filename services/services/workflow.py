"""The staff workflow of a request: triage, route, start, answer, note, resolve, close,
reject, reopen, and merging a duplicate into the request that survives.

Each write locks the request, checks the staff member's scope, keeps the timeline, audits,
publishes ``request.updated`` and emails the reporters of a change of state (after commit).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ioc.models import Department, User, Ward
from ioc.services.alerts import alert_clear
from ioc.text import text_clean as _text
from services.choices import EntryKind, PhotoKind, RequestStatus
from services.models import OPEN_STATUSES, RequestEntry, ServiceRequest
from services.photos import PreparedPhoto
from services.services.common import (
    audit,
    deadline_after,
    deadline_cause,
    entry_add,
    locked,
    photo_save,
    staff_check,
    touch,
)
from services.services.notify import reporters_notify, request_publish

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
    """Change the (locked) request's status as ``TRANSITIONS`` allows, with its timeline
    entry, audit, live event and e-mail; a closing status clears its deadline alert."""
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
    touch(request, fields)
    entry_add(request, kind, actor=actor, text=text, public=public, data=data)
    audit(actor, str(kind), request, before, {"status": status, **(data or {})}, text)
    if status not in OPEN_STATUSES:
        alert_clear(device=None, cause=deadline_cause(request.code))  # its deadline alert
    request_publish(request)
    reporters_notify(request, str(RequestStatus(status).label))
    return request


@transaction.atomic
def request_triage(*, actor: User, request: ServiceRequest) -> ServiceRequest:
    """Someone has read the request and it is in scope."""
    request = locked(request)
    staff_check(actor, request)
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
    request = locked(request)
    staff_check(actor, request)
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
        touch(request, ["department", "assignee"])
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
    touch(request, ["department", "assignee"])  # forwarded while being worked on
    entry_add(request, EntryKind.ASSIGNED, actor=actor, text=unit)
    audit(
        actor, "forwarded", request, before, {"department": department.code if department else None}
    )
    request_publish(request)
    return request


@transaction.atomic
def request_start(*, actor: User, request: ServiceRequest) -> ServiceRequest:
    """Work on the request has begun."""
    request = locked(request)
    staff_check(actor, request)
    return _move(actor, request, RequestStatus.IN_PROGRESS, EntryKind.STARTED)


@transaction.atomic
def request_answer(*, actor: User, request: ServiceRequest, text: str) -> RequestEntry:
    """A public answer: the citizen reads it on the tracking page (and gets an email)."""
    request = locked(request)
    staff_check(actor, request)
    text = _text(text, "text", required=True, message=_("Write the answer first."))
    entry = entry_add(request, EntryKind.ANSWER, actor=actor, text=text)
    touch(request, [])
    audit(actor, "answered", request, None, {"entry": entry.pk}, text)
    request_publish(request)
    reporters_notify(request, _("new answer"))
    return entry


@transaction.atomic
def request_note(*, actor: User, request: ServiceRequest, text: str) -> RequestEntry:
    """An internal note: staff only, never on the tracking page or in Open311."""
    request = locked(request)
    staff_check(actor, request)
    text = _text(text, "text", required=True, message=_("Write the note first."))
    entry = entry_add(request, EntryKind.NOTE, actor=actor, text=text, public=False)
    touch(request, [])
    audit(actor, "noted", request, None, {"entry": entry.pk}, text)
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
    request = locked(request)
    staff_check(actor, request)
    answer = _text(answer, "answer", required=True, message=_("Tell the citizen what was done."))
    if after_photo is not None:
        photo_save(request, after_photo, PhotoKind.AFTER)
    return _move(actor, request, RequestStatus.RESOLVED, EntryKind.RESOLVED, text=answer)


@transaction.atomic
def request_close(*, actor: User, request: ServiceRequest) -> ServiceRequest:
    """Closed for good (after the citizen's rating, or when the time to dispute passed)."""
    request = locked(request)
    staff_check(actor, request)
    return _move(actor, request, RequestStatus.CLOSED, EntryKind.CLOSED)


@transaction.atomic
def request_reject(*, actor: User, request: ServiceRequest, reason: str) -> ServiceRequest:
    """Not something the city handles (or not a real report): the reason is public."""
    request = locked(request)
    staff_check(actor, request)
    reason = _text(reason, "reason", required=True, message=_("Say why it is rejected."))
    request.rejection_reason = reason
    request.save(update_fields=["rejection_reason"])
    return _move(actor, request, RequestStatus.REJECTED, EntryKind.REJECTED, text=reason)


@transaction.atomic
def request_reopen(*, actor: User, request: ServiceRequest, reason: str) -> ServiceRequest:
    """Staff reopen a resolved or rejected request, with a new deadline."""
    request = locked(request)
    staff_check(actor, request)
    reason = _text(reason, "reason", required=True, message=_("Say why it is reopened."))
    request.deadline_at = deadline_after(timezone.now(), request.category.deadline_hours)
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
    duplicate, into = locked(duplicate), locked(into)
    staff_check(actor, duplicate)
    staff_check(actor, into)
    if duplicate.pk == into.pk:
        raise ValidationError({"into": _("A request cannot be merged into itself.")})
    if into.merged_into_id is not None or not into.is_open:
        raise ValidationError({"into": _("Merge into an open request that was not merged.")})
    if not duplicate.is_open:
        raise ValidationError({"status": _("Only an open request can be merged.")})
    duplicate.merged_into = into
    duplicate.status = RequestStatus.CLOSED
    duplicate.closed_at = timezone.now()
    touch(duplicate, ["merged_into", "status", "closed_at"])
    entry_add(duplicate, EntryKind.MERGED, actor=actor, text=into.code, data={"into": into.code})
    entry_add(
        into,
        EntryKind.MERGED,
        actor=actor,
        text=duplicate.code,
        public=False,
        data={"duplicate": duplicate.code},
    )
    touch(into, [])
    audit(actor, "merged", duplicate, None, {"into": into.code})
    request_publish(duplicate)
    request_publish(into)
    reporters_notify(duplicate, _("merged into %(code)s") % {"code": into.code})
    return into
