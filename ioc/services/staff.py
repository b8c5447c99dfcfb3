"""Writes of staff accounts: creating one with its role and scope."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from ioc.choices import Role
from ioc.models import Department, User, Ward
from ioc.services.audit import audit_record


@transaction.atomic
def staff_user_create(
    *,
    username: str,
    role: Role,
    password: str,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    wards: list[Ward] | None = None,
    departments: list[Department] | None = None,
    actor: User | None = None,
    actor_label: str = "",
    two_factor_exempt: bool = False,
) -> User:
    """Create a staff account with its role and scope (wards or departments).

    ``two_factor_exempt`` is for the demo logins only (their password is public anyway).
    """
    if role == Role.WARD_OFFICIAL and not wards:
        raise ValidationError({"wards": "A ward official needs at least one ward."})
    if role == Role.DEPARTMENT_STAFF and not departments:
        raise ValidationError({"departments": "Department staff need at least one department."})
    user = User(
        username=username,
        role=role,
        first_name=first_name,
        last_name=last_name,
        email=email,
        is_staff=role == Role.ADMIN,
        is_superuser=role == Role.ADMIN,
        two_factor_exempt=two_factor_exempt,
    )
    user.set_password(password)
    user.full_clean()
    user.save()
    if wards:
        user.wards.set(wards)
    if departments:
        user.departments.set(departments)
    audit_record(
        actor=actor,
        actor_label=actor_label,
        action="user.created",
        obj=user,
        after={
            "username": username,
            "role": role.value,
            "wards": [ward.code for ward in wards or []],
            "departments": [dept.code for dept in departments or []],
            "two_factor_exempt": two_factor_exempt,
        },
    )
    return user
