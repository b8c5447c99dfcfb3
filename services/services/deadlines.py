"""The deadline sweep (every few minutes, ``tasks.requests_deadline_sweep_task``): warn the
handling unit before a deadline, escalate what is overdue."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ioc.choices import AlertKind, Severity
from ioc.services.alerts import alert_raise
from services.choices import EntryKind, RequestLevel
from services.models import OPEN_STATUSES, ServiceRequest
from services.services.common import deadline_cause, entry_add
from services.services.notify import request_publish


def deadline_alert_title(code: str, *, overdue: bool) -> str:
    """The title of a request's deadline alert, in the active language."""
    if overdue:
        return _("Request %(code)s is overdue") % {"code": code}
    return _("Request %(code)s is due soon") % {"code": code}


def requests_deadline_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Warn the unit of open requests near their deadline (an alert in the ward) and
    escalate overdue ones to the supervising level; each request once for each."""
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
                    cause=deadline_cause(request.code),
                    severity=Severity.CRITICAL if overdue else Severity.WARNING,
                    title=deadline_alert_title(request.code, overdue=overdue),
                    data={"request": request.code},
                )
                ServiceRequest.objects.filter(pk=request.pk).update(deadline_warned_at=now)
                entry_add(request, EntryKind.DEADLINE, public=False, data={"overdue": overdue})
            warned += 1
    for request in open_requests.filter(deadline_at__lt=now, level=RequestLevel.UNIT).iterator():
        with transaction.atomic():
            ServiceRequest.objects.filter(pk=request.pk).update(
                level=RequestLevel.SUPERVISING, updated_at=now
            )
            request.level = RequestLevel.SUPERVISING
            entry_add(request, EntryKind.ESCALATED, public=False)
            request_publish(request)
        escalated += 1
    return {"warned": warned, "escalated": escalated}
