"""The citizen's say once a request is resolved: a rating (1–5) or a dispute. Only the
reporter may (the portal checks their key, see ``services.views``); the tracking code
alone only reads."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ioc.text import text_clean as _text
from services.choices import EntryKind, RequestLevel, RequestStatus
from services.models import ServiceRequest
from services.services.common import deadline_after, entry_add, locked, touch
from services.services.notify import reporters_notify, request_publish


@transaction.atomic
def request_rate(*, request: ServiceRequest, rating: int, comment: str = "") -> ServiceRequest:
    """The citizen rates the answer (1–5) once the request is resolved; once."""
    request = locked(request)
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
    touch(request, ["rating", "rating_comment", "rated_at"])
    entry_add(request, EntryKind.RATED, text=request.rating_comment, data={"rating": rating})
    request_publish(request)
    return request


@transaction.atomic
def request_dispute(*, request: ServiceRequest, reason: str) -> ServiceRequest:
    """The citizen is not satisfied with the resolution: the request reopens at the
    supervising level (the city's operators) with a new deadline."""
    request = locked(request)
    if request.status != RequestStatus.RESOLVED or request.merged_into_id:
        raise ValidationError({"status": _("Only a resolved request can be disputed.")})
    reason = _text(
        reason, "reason", required=True, message=_("Say what is still wrong."), limit=2000
    )
    request.status = RequestStatus.REOPENED
    request.level = RequestLevel.SUPERVISING
    request.resolved_at = None
    request.deadline_warned_at = None
    request.deadline_at = deadline_after(timezone.now(), request.category.deadline_hours)
    touch(request, ["status", "level", "resolved_at", "deadline_warned_at", "deadline_at"])
    entry_add(request, EntryKind.DISPUTED, text=reason)
    request_publish(request)
    reporters_notify(request, str(RequestStatus.REOPENED.label))
    return request
