"""Who hears of a change, after commit: the screens (the live ``request.created`` /
``request.updated`` event) and the reporters who gave an e-mail address."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from ioc import realtime
from ioc.realtime import event_types
from services.models import ServiceRequest
from services.selectors import request_data


def request_publish(request: ServiceRequest, *, created: bool = False) -> None:
    """Publish the request's live event (after commit, see ``realtime.publish``)."""
    realtime.publish(
        event_types.request_event(
            ward=request.ward.code, request=request_data(request), created=created
        )
    )


def tracking_url(request: ServiceRequest) -> str:
    """The public page where the citizen follows the request."""
    return settings.IOC_PUBLIC_URL + reverse("portal-track", kwargs={"code": request.code})


def _reporters(request: ServiceRequest) -> list[str]:
    """Who hears of a change: the request's reporter and those of duplicates merged into it."""
    emails = [request.reporter_email, *request.duplicates.values_list("reporter_email", flat=True)]
    return sorted({email for email in emails if email})


def reporters_notify(request: ServiceRequest, what: str) -> None:
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
