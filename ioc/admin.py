"""Django admin for registry data; every change made here is audited like a service write."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.db import models
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from ioc.models import (
    Alert,
    AuditEntry,
    Department,
    Incident,
    IncidentType,
    IncidentTypeStep,
    User,
    Ward,
)
from ioc.services import audit_record, snapshot


class AuditedAdmin(admin.ModelAdmin):
    """Record an audit entry (before/after) for every add, change and delete in the admin."""

    audit_exclude: tuple[str, ...] = ()

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        before = None
        if change:
            stored = type(obj).objects.filter(pk=obj.pk).first()
            before = snapshot(stored, exclude=self.audit_exclude) if stored else None
        super().save_model(request, obj, form, change)
        audit_record(
            actor=request.user if isinstance(request.user, User) else None,
            action=f"{obj._meta.model_name}.{'changed' if change else 'added'}_in_admin",
            obj=obj,
            before=before,
            after=snapshot(obj, exclude=self.audit_exclude),
            ward_code=_ward_code(obj),
        )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        before = snapshot(obj, exclude=self.audit_exclude)
        audit_record(
            actor=request.user if isinstance(request.user, User) else None,
            action=f"{obj._meta.model_name}.deleted_in_admin",
            obj=obj,
            before=before,
            ward_code=_ward_code(obj),
        )
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: models.QuerySet[Any]) -> None:
        for obj in queryset:
            self.delete_model(request, obj)


def _ward_code(obj: Any) -> str:
    """The ward an object belongs to, for filtering the audit log by ward."""
    if isinstance(obj, Ward):
        return obj.code
    ward = getattr(obj, "ward", None)
    return getattr(ward, "code", "") if ward is not None else ""


@admin.register(Ward)
class WardAdmin(AuditedAdmin):
    list_display = ["code", "name", "kind", "parent_name", "valid_from", "valid_to"]
    list_filter = ["kind", "parent_name"]
    search_fields = ["code", "name"]
    readonly_fields = ["updated_at"]
    audit_exclude = ("boundary",)


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
        (_("Role and scope"), {"fields": ("role", "wards", "departments")}),
    )
    audit_exclude = ("password",)


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """The audit log is read-only, even for administrators."""

    list_display = ["at", "actor_label", "action", "object_repr", "ward_code", "ip_address"]
    list_filter = ["action", "ward_code"]
    search_fields = ["actor_label", "object_repr", "object_id"]
    date_hierarchy = "at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    """Alerts are handled on the operations pages (audited services); here they are read."""

    list_display = ["raised_at", "title", "ward", "severity", "status", "occurrences"]
    list_filter = ["status", "severity", "kind", "ward"]
    search_fields = ["title", "cause", "device__code"]
    list_select_related = ["ward"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


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

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        before = list(form.instance.steps.values_list("text", flat=True)) if change else []
        super().save_related(request, form, formsets, change)
        after = list(form.instance.steps.values_list("text", flat=True))
        if after != before:
            audit_record(
                actor=request.user if isinstance(request.user, User) else None,
                action="incidenttype.steps_changed_in_admin",
                obj=form.instance,
                before={"steps": before},
                after={"steps": after},
            )


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    """Incidents are worked on the operations pages (audited services); here they are read."""

    list_display = ["created_at", "title", "incident_type", "ward", "severity", "status"]
    list_filter = ["status", "severity", "incident_type", "ward"]
    search_fields = ["title", "description"]
    list_select_related = ["ward", "incident_type"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
