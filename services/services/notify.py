"""Who hears of a change, after commit: the screens (the live ``request.created`` /
``request.updated`` event) and the reporters who gave an e-mail address."""

from __future__ import annotations

from urllib.parse import urlencode

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


def reporter_url(request: ServiceRequest, key: str) -> str:
    """The reporter's private link: the tracking page with their key, which lets them rate
    or dispute (the portal trades it for a session mark and drops it from the address)."""
    return f"{tracking_url(request)}?{urlencode({'key': key})}"


def reporter_key_send(request: ServiceRequest) -> None:
    """E-mail the reporter their private link after commit, if they gave an address (and
    the request was just filed: ``reporter_key`` is there only then)."""
    if not request.reporter_email or not request.reporter_key:
        return
    with translation.override(settings.LANGUAGE_CODE):
        subject = _("Your feedback %(code)s has been received") % {"code": request.code}
        body = _(
            "Your feedback %(code)s (%(category)s) has been received.\n\n"
            "Follow it here: %(url)s\n\n"
            "Your private link, to rate the answer or say you are not satisfied with it:\n"
            "%(private_url)s\n"
            "Keep it to yourself: whoever has it can act on your feedback.\n"
        ) % {
            "code": request.code,
            "category": request.category.name,
            "url": tracking_url(request),
            "private_url": reporter_url(request, request.reporter_key),
        }
    recipients = [request.reporter_email]
    transaction.on_commit(lambda: send_mail(subject, body, None, recipients, fail_silently=True))


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
