"""API permissions shared by every app."""

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from ioc.choices import Role
from ioc.two_factor import step_pending


class IsStaffRole(BasePermission):
    """Any active account with a staff role; what it then sees is scoped by selectors."""

    message = "Log in with a staff account to use this API."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(
            user
            and user.is_authenticated
            and getattr(user, "is_staff_role", False)
            # A session that still owes its second factor is not yet a staff session.
            and not step_pending(request._request)
        )


class IsAdminRole(BasePermission):
    """Administrators only (registry writes)."""

    message = "Only administrators may change this."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(
            user
            and user.is_authenticated
            and (user.is_superuser or getattr(user, "role", "") == Role.ADMIN)
            and not step_pending(request._request)
        )
