"""Choice lists of the core."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    """What a staff account may do; scoping follows from it (see ioc.selectors)."""

    ADMIN = "admin", _("Administrator")
    CITY_OPERATOR = "city_operator", _("City operator")
    WARD_OFFICIAL = "ward_official", _("Ward official")
    DEPARTMENT_STAFF = "department_staff", _("Department staff")


class WardKind(models.TextChoices):
    """Kinds of commune-level administrative unit."""

    PHUONG = "phuong", _("Ward (phường)")
    XA = "xa", _("Commune (xã)")
    THI_TRAN = "thi_tran", _("Township (thị trấn)")
