"""Admin of citizen services: categories (with their answer templates), fields, the
announced days off and working days, and Open311 keys; requests are worked on
/ops/requests/, not here."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from ioc.admin import AuditedAdmin, ReadOnlyAdmin
from services.holidays import statutory_name
from services.models import (
    Holiday,
    Open311Key,
    ResponseTemplate,
    ServiceCategory,
    ServiceGroup,
    ServiceRequest,
)


@admin.register(ServiceGroup)
class ServiceGroupAdmin(AuditedAdmin):
    list_display = ["name", "code", "position"]
    list_editable = ["position"]


class ResponseTemplateInline(admin.StackedInline):
    model = ResponseTemplate
    extra = 0


@admin.register(ServiceCategory)
class ServiceCategoryAdmin(AuditedAdmin):
    list_display = [
        "name",
        "code",
        "group",
        "department",
        "deadline_hours",
        "legal_process",
        "is_active",
    ]
    list_filter = ["group", "department", "legal_process", "is_active"]
    search_fields = ["name", "code", "keywords"]
    inlines = [ResponseTemplateInline]


@admin.register(Holiday)
class HolidayAdmin(AuditedAdmin):
    """What each year's announcement adds to the statutory days off (which come from the
    ``holidays`` package and are shown beside each row); deadlines follow both."""

    list_display = ["date", "name", "is_working_day", "statutory_day_off"]
    list_filter = ["is_working_day"]
    date_hierarchy = "date"

    @admin.display(description=_("statutory day off"))
    def statutory_day_off(self, obj: Holiday) -> str:
        """The law's name for the day, so a row that repeats or overrides it shows."""
        return statutory_name(obj.date)


@admin.register(Open311Key)
class Open311KeyAdmin(AuditedAdmin):
    """Keys are issued with ``manage.py issue_open311_key NAME``; here they are revoked."""

    list_display = ["name", "is_active", "created_at"]
    readonly_fields = ["key_hash", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(ServiceRequest)
class ServiceRequestAdmin(ReadOnlyAdmin):
    """Requests are read here; every change goes through /ops/requests/ (audited)."""

    list_display = ["code", "category", "ward", "status", "created_at", "deadline_at"]
    list_filter = ["status", "category", "ward"]
    search_fields = ["code"]
    list_select_related = ["category", "ward"]
    exclude = ["reporter_key_hash"]  # of no use to anyone reading
