"""Writes of staff accounts: creating one with its role and scope; closing the reviews of
scopes a reorganisation's split left."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ioc.choices import Role
from ioc.models import Department, ScopeReview, User, Ward
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


@transaction.atomic
def scope_reviews_close(*, reviews: list[ScopeReview], actor: User) -> int:
    """Someone checked these officials' units after a split (and changed them in the staff
    account if needed): the flags go, audited. How many were still open."""
    closed = 0
    now = timezone.now()
    for review in ScopeReview.objects.select_for_update().filter(
        pk__in=[review.pk for review in reviews], reviewed_at__isnull=True
    ):
        review.reviewed_at = now
        review.reviewed_by = actor
        review.save(update_fields=["reviewed_at", "reviewed_by"])
        audit_record(
            actor=actor,
            action="scopereview.closed",
            obj=review,
            before={"reviewed_at": None},
            after={"reviewed_at": now.isoformat(), "user": review.user_id},
            ward_code=review.former.code,
        )
        closed += 1
    return closed
