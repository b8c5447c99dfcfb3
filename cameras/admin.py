"""Django admin for the device registry (audited like every staff write)."""

from django.contrib import admin

from cameras.models import Device
from ioc.admin import AuditedAdmin


@admin.register(Device)
class DeviceAdmin(AuditedAdmin):
    list_display = ["code", "name", "kind", "ward", "status", "last_seen_at"]
    list_filter = ["kind", "status", "ward"]
    search_fields = ["code", "name", "address"]
    list_select_related = ["ward"]
    readonly_fields = ["last_seen_at", "created_at", "updated_at"]
