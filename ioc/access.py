"""Access to the staff pages: the decorator every staff screen wears."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils.http import url_has_allowed_host_and_scheme

from ioc.two_factor import refusal, step_pending


def staff_required(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Let staff-role accounts through once they have given their second factor (when they
    owe one); send anonymous people to the login page."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not getattr(user, "is_staff_role", False):
            raise PermissionDenied("This account has no staff role.")
        step = step_pending(request)
        if step:
            return refusal(request, step)
        return view(request, *args, **kwargs)

    return wrapper


def local_next(request: HttpRequest, default: str) -> str:
    """The ``next`` a form sent (POST, else GET) if it is a page of this site; ``default``
    otherwise: a redirect must never take a person to a page someone else chose."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default
