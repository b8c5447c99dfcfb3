"""The account pages after the password: the second factor's code, and enrolment (an
authenticator app's QR code, a first code to confirm it, recovery codes shown once)."""

from __future__ import annotations

from base64 import b32encode
from typing import Any

import segno
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login

from ioc.models import User
from ioc.services.two_factor import (
    two_factor_enrolment_confirm,
    two_factor_enrolment_start,
    two_factor_verify,
)
from ioc.two_factor import (
    ENROL,
    VERIFY,
    has_confirmed_device,
    step_passed,
    step_url,
    two_factor_required,
)


def _next(request: HttpRequest) -> str:
    """Where to go once the step is done: a local path, else the operations dashboard."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return "/ops/"


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def two_factor_verify_view(request: HttpRequest) -> HttpResponse:
    """The second step of a login: a code from the authenticator app, or a recovery code."""
    user = request.user
    assert isinstance(user, User)
    if not has_confirmed_device(user):
        return HttpResponseRedirect(step_url(ENROL, _next(request)))
    failed = False
    if request.method == "POST":
        device = two_factor_verify(user=user, token=request.POST.get("token", ""))
        if device is not None:
            otp_login(request, device)
            step_passed(request)
            return HttpResponseRedirect(_next(request))
        failed = True
    return render(
        request,
        "registration/two_factor_verify.html",
        {"failed": failed, "next": _next(request)},
        status=200,
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def two_factor_setup_view(request: HttpRequest) -> HttpResponse:
    """Enrolment: the otpauth URI as text and as a QR code; a first code confirms it and
    shows the recovery codes, once."""
    user = request.user
    assert isinstance(user, User)
    if has_confirmed_device(user) and not user.is_verified():  # type: ignore[attr-defined]
        # A second device is added only by someone who has given the first one's code.
        return HttpResponseRedirect(step_url(VERIFY, _next(request)))
    failed = False
    if request.method == "POST":
        confirmed = two_factor_enrolment_confirm(user=user, token=request.POST.get("token", ""))
        if confirmed is not None:
            device, codes = confirmed
            otp_login(request, device)
            step_passed(request)
            return render(
                request,
                "registration/two_factor_codes.html",
                {"codes": codes, "next": _next(request)},
            )
        failed = True
    device = two_factor_enrolment_start(user=user)
    uri = device.config_url
    # segno writes a plain <svg> of paths (no script, no style attribute): safe inline
    # under the strict CSP, and nothing fetched from elsewhere.
    svg = segno.make(uri, error="m").svg_inline(scale=5, border=3, light="#fff")
    return render(
        request,
        "registration/two_factor_setup.html",
        {
            "otpauth_uri": uri,
            "secret": b32encode(device.bin_key).decode(),  # as config_url writes it
            "qr_svg": mark_safe(svg),  # noqa: S308 - segno's own output, no user text in markup
            "failed": failed,
            "required": two_factor_required(user),
            "next": _next(request),
        },
    )


def locked_out(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """The page of a login refused by the lockout (django-axes' AXES_LOCKOUT_CALLABLE):
    how long, and whom to contact. 429, as the login was refused for its rate."""
    minutes = max(1, round(settings.AXES_COOLOFF_TIME.total_seconds() / 60))
    return render(
        request,
        "registration/locked_out.html",
        {
            "failure_limit": settings.AXES_FAILURE_LIMIT,
            "lockout_minutes": minutes,
            "contact": settings.IOC_ACCOUNTS_CONTACT,
        },
        status=429,
    )


class StaffLoginView(LoginView):
    """The login page; it says so when the demo's password-only logins are loaded."""

    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["demo_password_only"] = User.objects.filter(
            two_factor_exempt=True, is_active=True
        ).exists()
        return context
