"""Staff accounts: a role and the wards or departments it covers."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from ioc.choices import Role
from ioc.models.units import Department, Ward


class User(AbstractUser):
    """A staff account. Citizens never need one; the portal is anonymous."""

    role = models.CharField(_("role"), max_length=32, choices=Role.choices, blank=True)
    wards = models.ManyToManyField(
        Ward, verbose_name=_("wards"), blank=True, related_name="officials"
    )
    departments = models.ManyToManyField(
        Department, verbose_name=_("departments"), blank=True, related_name="staff"
    )
    two_factor_exempt = models.BooleanField(
        _("exempt from two-factor authentication"),
        default=False,
        help_text=_(
            "Set only by the demo loader for the demo logins, whose password is public "
            "anyway; never for a real account."
        ),
    )

    class Meta:
        verbose_name = _("staff account")
        verbose_name_plural = _("staff accounts")

    def get_full_name(self) -> str:
        """Vietnamese order: family and middle names (last_name) before the given name."""
        return f"{self.last_name} {self.first_name}".strip()

    @property
    def has_city_scope(self) -> bool:
        """Whether this account sees every ward (administrators and city operators)."""
        return self.is_active and (
            self.is_superuser or self.role in {Role.ADMIN, Role.CITY_OPERATOR}
        )

    @property
    def is_staff_role(self) -> bool:
        """Whether this account may use the staff side (``/ops/``) at all."""
        return self.is_active and (self.is_superuser or bool(self.role))
