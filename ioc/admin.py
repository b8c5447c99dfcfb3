"""Django admin for registry data; every change made here is audited like a service write."""

from __future__ import annotations

from typing import Any

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import Group
from django.db import models
from django.forms.models import _get_foreign_key
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from ioc.models import (
    Alert,
    AuditEntry,
    Department,
    Incident,
    IncidentType,
    IncidentTypeStep,
    User,
    Ward,
    WardSuccession,
)
from ioc.services import audit_record, snapshot


class AuditedAdmin(admin.ModelAdmin):
    """Record an audit entry (before/after) for every add, change and delete in the admin.

    The state recorded is the whole of what the change page edits: the fields, the
    many-to-many fields (read after the admin has saved them) and the rows of the inlines.
    Credentials are masked (``ioc.services.audit.SECRET_FIELDS``): an entry shows that
    they changed, never their value.
    """

    audit_exclude: tuple[str, ...] = ()

    def audit_state(self, obj: Any) -> dict[str, Any]:
        """The object as the audit log records it, inlines included."""
        state = snapshot(obj, exclude=self.audit_exclude)
        for inline in self.inlines:
            model = inline.model
            key = _get_foreign_key(type(obj), model, fk_name=inline.fk_name)
            rows = model.objects.filter(**{key.name: obj}).order_by("pk") if obj.pk else []
            state[model._meta.model_name] = [snapshot(row, exclude=(key.name,)) for row in rows]
        return state

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        stored = type(obj).objects.filter(pk=obj.pk).first() if change else None
        # Read before anything is written: the inlines and many-to-many fields are saved
        # after this, by save_related, where the entry is made.
        form._audit_before = self.audit_state(stored) if stored is not None else None
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        obj = form.instance
        audit_record(
            actor=_actor(request),
            action=f"{obj._meta.model_name}.{'changed' if change else 'added'}_in_admin",
            obj=obj,
            before=getattr(form, "_audit_before", None),
            after=self.audit_state(obj),
            ward_code=_ward_code(obj),
        )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        audit_record(
            actor=_actor(request),
            action=f"{obj._meta.model_name}.deleted_in_admin",
            obj=obj,
            before=self.audit_state(obj),
            ward_code=_ward_code(obj),
        )
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: models.QuerySet[Any]) -> None:
        for obj in queryset:
            self.delete_model(request, obj)


class ReadOnlyAdmin(admin.ModelAdmin):
    """A page that only reads: the record is written by audited services elsewhere, and
    deleting it here would erase history without a trace."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _actor(request: HttpRequest) -> User | None:
    """The staff account behind an admin request."""
    return request.user if isinstance(request.user, User) else None


def _ward_code(obj: Any) -> str:
    """The ward an object belongs to, for filtering the audit log by ward."""
    if isinstance(obj, Ward):
        return obj.code
    ward = getattr(obj, "ward", None)
    return getattr(ward, "code", "") if ward is not None else ""


class _SuccessionInline(admin.TabularInline):
    """A unit's reorganisations, read only: only a reorganisation writes them."""

    model = WardSuccession
    extra = 0
    can_delete = False
    readonly_fields = ("predecessor", "successor", "transfer", "effective")
    fields = ("predecessor", "successor", "transfer", "effective")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CameFromInline(_SuccessionInline):
    fk_name = "successor"
    verbose_name = _("former unit")
    verbose_name_plural = _("came from")


class WentIntoInline(_SuccessionInline):
    fk_name = "predecessor"
    verbose_name = _("new unit")
    verbose_name_plural = _("went into")


@admin.register(Ward)
class WardAdmin(AuditedAdmin):
    list_display = ["code", "name", "kind", "province_name", "valid_from", "valid_to"]
    list_filter = ["kind", "valid_to", "province_name"]
    search_fields = ["code", "name"]
    readonly_fields = ["updated_at"]
    audit_exclude = ("boundary",)
    inlines = [CameFromInline, WentIntoInline]


@admin.register(Department)
class DepartmentAdmin(AuditedAdmin):
    list_display = ["code", "name", "email", "is_active"]
    search_fields = ["code", "name"]


@admin.register(User)
class StaffUserAdmin(UserAdmin, AuditedAdmin):
    list_display = ["username", "first_name", "last_name", "role", "is_active"]
    list_filter = ["role", "is_active"]
    filter_horizontal = ["wards", "departments", "groups", "user_permissions"]
    fieldsets = (
        *UserAdmin.fieldsets,  # type: ignore[misc]
        (_("Role and scope"), {"fields": ("role", "wards", "departments", "two_factor_exempt")}),
    )
    # The password hash is never recorded; a password change is recorded on its own
    # ("user.password_changed", ioc/signals.py), whichever door it came through.
    audit_exclude = ("password", "last_login")
    readonly_fields = ["two_factor_exempt", "last_login", "date_joined"]


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    """The audit log is read-only, even for administrators."""

    list_display = ["at", "actor_label", "action", "object_repr", "ward_code", "ip_address"]
    list_filter = ["action", "ward_code"]
    search_fields = ["actor_label", "object_repr", "object_id"]
    date_hierarchy = "at"


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    """Alerts are handled on the operations pages (audited services); here they are read."""

    list_display = ["raised_at", "title", "ward", "severity", "status", "occurrences"]
    list_filter = ["status", "severity", "kind", "ward"]
    search_fields = ["title", "cause", "device__code"]
    list_select_related = ["ward"]


class IncidentTypeStepInline(admin.TabularInline):
    model = IncidentTypeStep
    extra = 1
    fields = ["position", "text"]


@admin.register(IncidentType)
class IncidentTypeAdmin(AuditedAdmin):
    """Incident types and their standard steps: each new incident copies the steps into
    its checklist (incidents already open keep theirs)."""

    list_display = ["name", "code", "default_severity", "is_active", "position"]
    list_editable = ["position"]
    list_filter = ["is_active", "default_severity"]
    search_fields = ["name", "code"]
    inlines = [IncidentTypeStepInline]


@admin.register(Incident)
class IncidentAdmin(ReadOnlyAdmin):
    """Incidents are worked on the operations pages (audited services); here they are read."""

    list_display = ["created_at", "title", "incident_type", "ward", "severity", "status"]
    list_filter = ["status", "severity", "incident_type", "ward"]
    search_fields = ["title", "description"]
    list_select_related = ["ward", "incident_type"]


# --- Admins that Django and the libraries register: audited like ours -----------------------
# Groups carry permissions (who may command a traffic signal); second-factor devices and
# lockouts are account security. Each is registered again with the audit mixed in, so that
# no door of the admin writes without an entry (tests/ioc/test_admin_audit.py checks all).


def _audited(model: type[models.Model], **options: Any) -> None:
    """Register ``model`` again with its current admin class plus AuditedAdmin."""
    registered = admin.site._registry.get(model)
    base = type(registered) if registered is not None else admin.ModelAdmin
    if registered is not None:
        admin.site.unregister(model)
    audited = type(f"Audited{base.__name__}", (AuditedAdmin, base), options)
    admin.site.register(model, audited)


# Registered by their apps' own admin modules: imported here first, whatever the order of
# INSTALLED_APPS, so that the registration below replaces theirs.
import axes.admin  # noqa: E402, F401
import django.contrib.auth.admin  # noqa: E402, F401
import django_otp.plugins.otp_static.admin  # noqa: E402
import django_otp.plugins.otp_totp.admin  # noqa: E402, F401

_audited(Group)
_audited(TOTPDevice)
_audited(StaticDevice)
for _model in (AccessAttempt, AccessLog, AccessFailureLog):
    _audited(_model)
