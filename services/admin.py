"""Admin of citizen services: categories (with their answer templates), fields, the
holiday calendar and Open311 keys; requests are worked on /ops/requests/, not here."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from ioc.admin import AuditedAdmin, ReadOnlyAdmin
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
    """The working calendar: days off and worked weekends; deadlines follow it."""

    list_display = ["date", "name", "is_working_day"]
    list_filter = ["is_working_day"]
    date_hierarchy = "date"


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
