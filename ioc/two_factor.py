"""The second factor: who needs one, and the gate every staff door passes.

After the password, a session is marked with what it still owes (``STEP_SESSION_KEY``):
``"verify"`` (the account has a confirmed device: a code from it, or a recovery code) or
``"enrol"`` (the account's role requires a second factor and it has none yet). The mark is
decided once, at login, so that a page costs no extra query; it is cleared when the code
is given. Every staff door reads it: pages and the admin (``SecondFactorMiddleware``),
``staff_required``, the API's permission, and the websocket (``session_step``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django_otp import devices_for_user

from ioc.choices import Role

STEP_SESSION_KEY = "ioc_second_factor"
VERIFY, ENROL = "verify", "enrol"
# Who may command a traffic signal without a city-wide role (a ward official given it);
# named here as a string: the core imports no app.
SIGNAL_COMMAND_PERMISSION = "cameras.add_signalcommand"
# Where a session gives power: these wait for the second factor.
GUARDED_PREFIXES = ("/ops/", "/admin/", "/api/")


def two_factor_required(user: Any) -> bool:
    """Whether this account must use a second factor: it can change devices, accounts or
    traffic signals (administrators, city operators, the admin site's staff, ward officials
    allowed to command signals)."""
    if not settings.IOC_REQUIRE_2FA or not user.is_authenticated or not user.is_active:
        return False
    if getattr(user, "two_factor_exempt", False):
        return False
    return bool(
        user.is_superuser
        or user.is_staff
        or getattr(user, "role", "") in {Role.ADMIN, Role.CITY_OPERATOR}
        or user.has_perm(SIGNAL_COMMAND_PERMISSION)
    )


def has_confirmed_device(user: Any) -> bool:
    """Whether the account has set up a second factor."""
    return any(True for _device in devices_for_user(user, confirmed=True))


def step_for(user: Any) -> str:
    """What a session of this account owes after its password: VERIFY, ENROL or ""."""
    if not user.is_authenticated:
        return ""
    if has_confirmed_device(user):
        return VERIFY
    return ENROL if two_factor_required(user) else ""


def step_pending(request: HttpRequest) -> str:
    """The step this request's session still owes ("" when none)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return ""
    session = request.session
    if STEP_SESSION_KEY not in session:
        # A session from before the second factor existed: decide now, once.
        session[STEP_SESSION_KEY] = step_for(user)
    step: str = session[STEP_SESSION_KEY]
    if step and getattr(user, "is_verified", lambda: False)():
        session[STEP_SESSION_KEY] = step = ""
    return step


def session_step(user: Any, session: Mapping[str, Any] | None) -> str:
    """The step a session (the websocket's scope) still owes ("" when none); a session
    marked before the second factor existed is judged by its account."""
    if session is not None and STEP_SESSION_KEY in session:
        return str(session[STEP_SESSION_KEY])
    return step_for(user)


def step_passed(request: HttpRequest) -> None:
    """Mark the session as having given its second factor."""
    request.session[STEP_SESSION_KEY] = ""


def step_url(step: str, next_path: str) -> str:
    """The page of a step, coming back to ``next_path`` after it."""
    name = "two-factor-verify" if step == VERIFY else "two-factor-setup"
    return f"{reverse(name)}?{urlencode({'next': next_path})}"


def step_decide(request: HttpRequest | None, user: Any) -> None:
    """At login (password accepted), decide what the session still owes (ioc/signals.py)."""
    if request is not None and hasattr(request, "session"):
        request.session[STEP_SESSION_KEY] = step_for(user)


class SecondFactorMiddleware:
    """Staff pages, the admin and the API wait until the session has given its second
    factor: pages redirect to the step's page, the API answers 403."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(GUARDED_PREFIXES) and not request.path.startswith(
            "/admin/logout/"
        ):
            step = step_pending(request)
            if step:
                return refusal(request, step)
        return self.get_response(request)


def refusal(request: HttpRequest, step: str) -> HttpResponse:
    """What a request that owes a second-factor step gets instead of the page."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"detail": _("Give the code of your second factor first (log in again).")},
            status=403,
        )
    return HttpResponseRedirect(step_url(step, request.get_full_path()))
