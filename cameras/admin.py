"""Django admin for the device registry (audited like every staff write).

Camera and controller passwords are write-only here too: the form never sends a stored
password back to the browser, and leaving the field empty keeps the stored one.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from cameras.models import (
    CameraDetail,
    Device,
    Gateway,
    IngestFailure,
    SensorThreshold,
    SignalCommand,
    SignalDetail,
    ViewingSession,
)
from cameras.services.ingest.failures import ingest_failures_replay
from cameras.views import is_admin
from ioc.admin import AuditedAdmin, ReadOnlyAdmin


class WriteOnlyPasswordForm(forms.ModelForm):
    """A model form whose ``password`` is never rendered back and is kept when left empty."""

    password = forms.CharField(
        label=_("password"),
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Leave empty to keep the stored password."),
    )

    def clean_password(self) -> str:
        value: str = self.cleaned_data.get("password") or ""
        if not value and self.instance.pk:
            return str(type(self.instance).objects.get(pk=self.instance.pk).password)
        return value


class CameraDetailInline(admin.StackedInline):
    model = CameraDetail
    form = WriteOnlyPasswordForm
    extra = 0
    readonly_fields = ["snapshot_at"]

    def formfield_for_dbfield(self, db_field: Any, request: Any, **kwargs: Any) -> Any:
        """Transcoding's help says its cost (the model's text) and this server's limit."""
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "transcode_main" and field is not None:
            limit = _("Here: at most %(count)d cameras at once per video relay.") % {
                "count": settings.IOC_VIDEO_MAX_TRANSCODES
            }
            field.help_text = f"{db_field.help_text} {limit}"
        return field


class SignalDetailInline(admin.StackedInline):
    model = SignalDetail
    form = WriteOnlyPasswordForm
    extra = 0
    readonly_fields = ["mode", "plan", "phase", "faults", "comm_status", "state_at"]


class SensorThresholdInline(admin.TabularInline):
    model = SensorThreshold
    extra = 0
    readonly_fields = ["breach_since"]


@admin.register(Device)
class DeviceAdmin(AuditedAdmin):
    list_display = ["code", "name", "kind", "ward", "status", "last_seen_at"]
    list_filter = ["kind", "status", "ward"]
    search_fields = ["code", "name", "address"]
    list_select_related = ["ward"]
    readonly_fields = [
        "last_seen_at",
        "last_received_at",
        "status_changed_at",
        "latest",
        "token_hash",
        "token_issued_at",
        "created_at",
        "updated_at",
    ]
    inlines = [CameraDetailInline, SignalDetailInline, SensorThresholdInline]
    audit_exclude = ("token_hash",)

    def get_inlines(self, request: Any, obj: Device | None) -> list[Any]:
        """Only the details that fit the device's kind."""
        inlines: dict[str, list[Any]] = {
            "camera": [CameraDetailInline],
            "signal": [SignalDetailInline],
            "sensor": [SensorThresholdInline],
        }
        return inlines.get(obj.kind, []) if obj is not None else []


@admin.register(Gateway)
class GatewayAdmin(AuditedAdmin):
    list_display = ["code", "name", "ward", "is_active", "token_issued_at", "last_seen_at"]
    list_filter = ["is_active", "ward"]
    search_fields = ["code", "name"]
    readonly_fields = ["token_hash", "token_issued_at", "last_seen_at"]
    audit_exclude = ("token_hash",)


@admin.register(SignalCommand)
class SignalCommandAdmin(ReadOnlyAdmin):
    """Commands are given from the operations pages; the admin only reads them."""

    list_display = ["device", "action", "plan", "status", "requested_by", "requested_at"]
    list_filter = ["status", "action"]
    search_fields = ["device__code", "reason"]


@admin.register(IngestFailure)
class IngestFailureAdmin(ReadOnlyAdmin):
    """Accepted events processing set aside, with their error; replayed by an action once
    the cause is fixed (the replay is audited by the service)."""

    list_display = ["failed_at", "device", "sent_id", "attempts", "error"]
    list_filter = ["failed_at"]
    search_fields = ["device__code", "sent_id", "error"]
    list_select_related = ["device"]
    # The event's own row is not shown: it may be what cannot be read.
    fields = readonly_fields = ("device", "sent_id", "batch_id", "attempts", "failed_at", "error")
    actions = ["replay"]

    @admin.action(description=_("Process the selected events again"))
    def replay(self, request: Any, queryset: Any) -> None:
        count = queryset.count()
        ingest_failures_replay(actor=request.user, failures=queryset)
        self.message_user(
            request, _("%(count)d events were queued for processing again.") % {"count": count}
        )


@admin.register(ViewingSession)
class ViewingSessionAdmin(ReadOnlyAdmin):
    """Who watched which camera live, from when to when: written by the relay through
    ``cameras.services.viewing``, read by administrators only (a ward official sees
    nobody's viewing, not even their own ward's)."""

    list_display = ["started_at", "ended_at", "user", "device", "quality", "address", "relay"]
    list_filter = ["quality", "relay", "started_at"]
    search_fields = ["user__username", "device__code", "token_id", "address"]
    list_select_related = ["user", "device"]
    date_hierarchy = "started_at"

    def has_module_permission(self, request: Any) -> bool:
        return is_admin(request.user)

    def has_view_permission(self, request: Any, obj: Any = None) -> bool:
        return is_admin(request.user)
