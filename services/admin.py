"""Admin of citizen services: categories (with their answer templates), fields, the
announced days off and working days, and Open311 keys; requests are worked on
/ops/requests/, not here. Reporters' data-subject requests are read here, beside the
processing record (what personal data the platform holds, why, for how long)."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.translation import gettext_lazy as _

from cameras.views import is_admin
from ioc.admin import AuditedAdmin, ReadOnlyAdmin
from services.holidays import statutory_name
from services.models import (
    DataSubjectRequest,
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


@admin.register(DataSubjectRequest)
class DataSubjectRequestAdmin(ReadOnlyAdmin):
    """Reporters' requests about their personal data, answered at once on the portal and
    recorded here (what was done, by field name; never a value). The processing record
    (``processing/``) says what personal data the platform holds, why and for how long."""

    list_display = ["asked_at", "kind", "request", "outcome", "answered_at"]
    list_filter = ["kind", "outcome"]
    search_fields = ["request__code"]
    list_select_related = ["request"]
    date_hierarchy = "asked_at"
    change_list_template = "admin/services/datasubjectrequest/change_list.html"

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "processing/",
                self.admin_site.admin_view(self.processing_view),
                name="services_processing_record",
            )
        ]
        return own + super().get_urls()

    def processing_view(self, request: HttpRequest) -> HttpResponse:
        """The processing record, for administrators: built from the settings in force
        and the tables (``privacy_selectors.processing_record``)."""
        from services.privacy_selectors import processing_record

        if not is_admin(request.user):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": _("Personal data: the processing record"),
            "opts": self.model._meta,
            "records": processing_record(),
        }
        return TemplateResponse(request, "admin/services/processing.html", context)
